internal import CLibPQ
import Foundation

/// Owns the connection's `PGcancel` and sends cancel requests from any thread.
///
/// libpq documents `PQcancel` as safe to call from any thread (it opens its own short connection to the
/// server), but it must not race with `PQfreeCancel`; the lock guarantees that.
///
/// Related libpq documentation: <https://www.postgresql.org/docs/15/libpq-cancel.html>
final class PostgresCanceller: @unchecked Sendable {
    // @unchecked Sendable: `handle` and `requested` are only read or written with `lock` held.
    private let lock = NSLock()
    private var handle: OpaquePointer?
    private var requested = false

    /// Takes ownership of a `PGcancel` from `PQgetCancel`.
    func install(_ newHandle: OpaquePointer?) {
        lock.lock()
        defer { lock.unlock() }
        if let handle { PQfreeCancel(handle) }
        handle = newHandle
    }

    /// Frees the `PGcancel`; later cancels do nothing.
    func release() {
        install(nil)
    }

    /// Called on the connection's thread before each statement: forgets earlier cancel requests.
    func beginStatement() {
        lock.lock()
        requested = false
        lock.unlock()
    }

    /// Whether ``cancel()`` was called since the current statement began.
    var wasRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    /// Asks the server to cancel whatever the connection is running. Returns whether the request was sent.
    @discardableResult
    func cancel() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let handle else { return false }
        requested = true
        var errorBuffer = [CChar](repeating: 0, count: 256)
        return PQcancel(handle, &errorBuffer, Int32(errorBuffer.count)) == 1
    }

    deinit {
        if let handle { PQfreeCancel(handle) }
    }
}
