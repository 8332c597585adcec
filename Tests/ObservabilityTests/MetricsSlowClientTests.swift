import Foundation
import Synchronization
import Testing
import TestSupport

@testable import Observability

#if canImport(Glibc)
import Glibc
#endif

@Suite("Prometheus endpoint: per-request deadline")
struct MetricsSlowClientTests {
    /// A client that sends its request one byte every 1.9 s on a socket only its own thread uses and closes (a
    /// descriptor closed elsewhere could be reused by another test's connection while this thread still writes).
    final class Trickler: Sendable {
        private let stopped = Atomic<Bool>(false)

        func start(port: Int) throws {
            guard let fd = TCPProbe.connected(host: "127.0.0.1", port: port) else { throw POSIXError(.ECONNREFUSED) }
            Thread {
                defer { close(fd) }
                for byte in Array("GET /metrics HTTP/1.1\r\n".utf8) {
                    if self.stopped.load(ordering: .acquiring) { return }
                    let sent = [byte].withUnsafeBytes { send(fd, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
                    if sent <= 0 { return }
                    Thread.sleep(forTimeInterval: 1.9)
                }
            }.start()
        }

        func stop() { stopped.store(true, ordering: .releasing) }
    }

    @Test("clients sending a byte every 1.9 s do not delay a scrape; a slow client is cut off at the deadline")
    func slowloris() throws {
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { Array("x 1\n".utf8) }
        server.start()
        defer { server.stop() }
        // Five slow clients connected first: a scrape is not queued behind them.
        let slow = (0..<5).map { _ in Trickler() }
        for client in slow { try client.start(port: server.port) }
        defer { slow.forEach { $0.stop() } }
        Thread.sleep(forTimeInterval: 0.2)
        let started = ContinuousClock.now
        let response = try HTTPProbe.request(port: server.port)
        let waited = ContinuousClock.now - started
        #expect(response.status == 200)
        // Queued behind a trickler it would wait ≥ 1.9 s (its byte interval) or the 2 s deadline; allow for load below that.
        #expect(waited < .milliseconds(1800), "the scrape waited \(waited)")
        // A slow client alone is cut off at the deadline: its connection is closed by then.
        let lone = try #require(TCPProbe.connected(host: "127.0.0.1", port: server.port))
        defer { close(lone) }
        _ = Array("GET".utf8).withUnsafeBytes { send(lone, $0.baseAddress, 3, Int32(MSG_NOSIGNAL)) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(lone, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let opened = ContinuousClock.now
        var byte: UInt8 = 0
        let read = recv(lone, &byte, 1, 0)  // 0: closed by the server (no answer to an incomplete request)
        #expect(read == 0)
        #expect(ContinuousClock.now - opened < MetricsHTTPServer.requestDeadline + .milliseconds(900))
    }
}
