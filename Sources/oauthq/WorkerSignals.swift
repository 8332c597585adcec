#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// SIGTERM and SIGINT delivered to a closure through dispatch signal sources (no async-signal-safety
/// constraints on the handler). The signals' default action is replaced by `SIG_IGN` first, so the process
/// is never killed by them while the sources are installed.
final class WorkerSignals: @unchecked Sendable {
    // @unchecked Sendable: `sources` is written only in init and read only by `cancel()`; dispatch sources
    // are thread-safe.
    private var sources: [any DispatchSourceSignal] = []

    /// Installs the sources; `handler` runs on a global queue once per signal received.
    init(_ handler: @escaping @Sendable () -> Void) {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    /// Removes the sources (the signals stay ignored).
    func cancel() {
        sources.forEach { $0.cancel() }
    }
}
