import Foundation
import Testing
import TestSupport

@testable import Observability

#if canImport(Glibc)
import Glibc
#endif

@Suite("Prometheus endpoint: per-request deadline")
struct MetricsSlowClientTests {
    @Test("a client sending a byte every 1.9 s is cut off at the deadline; a scrape behind it still answers in time")
    func slowloris() throws {
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { Array("x 1\n".utf8) }
        server.start()
        defer { server.stop() }
        let slow = try #require(TCPProbe.connected(host: "127.0.0.1", port: server.port))
        defer { close(slow) }
        let trickle = Thread {
            // A byte every 1.9 s: each alone stays under the 2 s socket timeout; only the overall deadline ends it.
            for byte in Array("GET /metrics HTTP/1.1\r\n".utf8) {
                let sent = [byte].withUnsafeBytes { send(slow, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }
                if sent <= 0 { return }
                Thread.sleep(forTimeInterval: 1.9)
            }
        }
        trickle.start()
        Thread.sleep(forTimeInterval: 0.2)  // the slow client is being served first
        let started = ContinuousClock.now
        let response = try HTTPProbe.request(port: server.port)
        let waited = ContinuousClock.now - started
        #expect(response.status == 200)
        #expect(waited < MetricsHTTPServer.requestDeadline + .milliseconds(900), "the scrape waited \(waited)")
    }
}
