internal import CLibPQ
import Foundation
import Synchronization

/// Owns the connection's cancel key and sends cancel requests without blocking the caller.
///
/// `PQcancel` is network I/O: it opens its own short connection to the server and waits for it to close.
/// It must never run on Swift's cooperative pool (a stalled server would stall every task) and never
/// while holding a lock the connection's thread takes. So ``cancel()`` only records the request and hands
/// the `PGcancel` to a short-lived thread of its own, which sends it. A cancel stuck on an unresponsive
/// server therefore holds up nothing else: not the caller, not the connection, not other cancels.
///
/// The `PGcancel` is reference-counted (``PostgresCancelKey``): replacing or releasing it while a
/// request is in flight is safe; `PQfreeCancel` runs when the last holder drops it.
///
/// Related libpq documentation: <https://www.postgresql.org/docs/15/libpq-cancel.html>
final class PostgresCanceller: Sendable {
    private struct State {
        var key: PostgresCancelKey?
        var requested = false
    }

    private let state = Mutex(State())

    /// Takes ownership of a `PGcancel` from `PQgetCancel` (nil forgets the current one).
    func install(_ newHandle: OpaquePointer?) {
        let key = newHandle.map(PostgresCancelKey.init)
        state.withLock { $0.key = key }
    }

    /// Forgets the `PGcancel`; later cancels do nothing.
    func release() {
        install(nil)
    }

    /// Called on the connection's thread before each statement: forgets earlier cancel requests.
    func beginStatement() {
        state.withLock { $0.requested = false }
    }

    /// Whether ``cancel()`` was called since the current statement began.
    var wasRequested: Bool {
        state.withLock { $0.requested }
    }

    /// Asks the server to cancel whatever the connection is running. Returns at once: the request is sent
    /// from a thread of its own. Returns whether there was a connection to cancel.
    @discardableResult
    func cancel() -> Bool {
        let key: PostgresCancelKey? = state.withLock { state in
            guard let key = state.key else { return nil }
            state.requested = true
            return key
        }
        guard let key else { return false }
        let sender = Thread { key.send() }
        sender.name = "postgres-cancel"
        sender.start()
        return true
    }
}

/// One `PGcancel`, freed (`PQfreeCancel`, which is plain memory release) when the last holder drops it.
final class PostgresCancelKey: @unchecked Sendable {
    // @unchecked Sendable: `pointer` is immutable, and libpq documents `PQcancel` on a `PGcancel` as safe
    // from any thread; it is only freed in deinit, when no thread can be using it.
    private let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Sends the cancel request (blocking network I/O: call it on a thread of its own).
    @discardableResult
    func send() -> Bool {
        var errorBuffer = [CChar](repeating: 0, count: 256)
        return PQcancel(pointer, &errorBuffer, Int32(errorBuffer.count)) == 1
    }

    deinit {
        PQfreeCancel(pointer)
    }
}
