#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A loopback TCP proxy for tests: forwards every connection it accepts to `127.0.0.1:targetPort`, and can
/// be told to stall. While stalled it still accepts connections (the kernel completes the handshake) but
/// forwards nothing on the ones accepted meanwhile, like a server that hangs; ``resume()`` lets them through.
/// Connections already forwarding are not affected. Every socket is closed by ``close()``.
public final class StallingTCPProxy: @unchecked Sendable {
    // @unchecked Sendable: `stalled`, `closed` and `sockets` are only touched with `condition` locked;
    // `port`, `listener` and `targetPort` are immutable.
    public let port: Int
    private let listener: Int32
    private let targetPort: Int
    private let condition = NSCondition()
    private var stalled = false
    private var closed = false
    private var sockets: [Int32] = []

    /// Listens on an ephemeral loopback port and starts accepting.
    public init(targetPort: Int) throws {
        self.targetPort = targetPort
        let bound = try TCPProbe.boundLoopbackSocket(listening: true)
        listener = bound.fd
        port = bound.port
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "test-proxy"
        thread.start()
    }

    /// From now on, newly accepted connections wait without forwarding.
    public func stall() {
        condition.lock()
        stalled = true
        condition.unlock()
    }

    /// Lets the waiting connections (and later ones) through.
    public func resume() {
        condition.lock()
        stalled = false
        condition.broadcast()
        condition.unlock()
    }

    /// Stops accepting and closes every connection.
    public func close() {
        condition.lock()
        closed = true
        let all = sockets
        sockets = []
        condition.broadcast()
        condition.unlock()
        _ = shutdown(listener, Int32(SHUT_RDWR))
        for fd in all {
            _ = shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    deinit {
        Glibc.close(listener)
    }

    private func register(_ fd: Int32) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        sockets.append(fd)
        return true
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else {
                if errno == EINTR { continue }
                return
            }
            guard register(client) else {
                Glibc.close(client)
                return
            }
            let thread = Thread { [self] in forward(client) }
            thread.start()
        }
    }

    private func forward(_ client: Int32) {
        condition.lock()
        while stalled && !closed { condition.wait() }
        let isClosed = closed
        condition.unlock()
        guard !isClosed, let upstream = TCPProbe.connected(host: "127.0.0.1", port: targetPort) else {
            _ = shutdown(client, Int32(SHUT_RDWR))
            return
        }
        guard register(upstream) else {
            Glibc.close(upstream)
            return
        }
        let back = Thread { Self.pump(from: upstream, to: client) }
        back.start()
        Self.pump(from: client, to: upstream)
    }

    /// Copies bytes until EOF or an error, then shuts the other side down for both directions.
    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            var offset = 0
            while offset < count {
                let sent = buffer[offset..<count].withUnsafeBytes { send(destination, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard sent > 0 else { break }
                offset += sent
            }
            guard offset == count else { break }
        }
        _ = shutdown(destination, Int32(SHUT_RDWR))
        _ = shutdown(source, Int32(SHUT_RDWR))
    }
}
