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

    @Test("a client sending a byte every 1.9 s is cut off at the deadline; a scrape behind it still answers in time")
    func slowloris() throws {
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { Array("x 1\n".utf8) }
        server.start()
        defer { server.stop() }
        let slow = Trickler()
        try slow.start(port: server.port)
        defer { slow.stop() }
        Thread.sleep(forTimeInterval: 0.2)  // the slow client is being served first
        let started = ContinuousClock.now
        let response = try HTTPProbe.request(port: server.port)
        let waited = ContinuousClock.now - started
        #expect(response.status == 200)
        #expect(waited < MetricsHTTPServer.requestDeadline + .milliseconds(900), "the scrape waited \(waited)")
    }
}
