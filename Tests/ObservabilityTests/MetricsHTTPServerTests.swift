import Foundation
import Testing
import TestSupport

@testable import Observability

@Suite("Prometheus endpoint (HTTP/1.1 on a dedicated thread)")
struct MetricsHTTPServerTests {
    static let sample = "# TYPE x counter\nx 1\n"

    static func withServer(_ body: (MetricsHTTPServer) throws -> Void) throws {
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { Array(sample.utf8) }
        server.start()
        defer { server.stop() }
        try body(server)
    }

    @Test("GET /metrics: 200, Prometheus content type, exact length, the body; a query string is ignored")
    func get() throws {
        try Self.withServer { server in
            #expect(server.port > 0)
            for path in ["/metrics", "/metrics?name[]=x"] {
                let response = try HTTPProbe.request(port: server.port, path: path)
                #expect(response.status == 200)
                #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
                #expect(response.headers["content-length"] == String(Self.sample.utf8.count))
                #expect(response.headers["connection"] == "close")
                #expect(response.text == Self.sample)
            }
        }
    }

    @Test("HEAD /metrics: the same headers, no body")
    func head() throws {
        try Self.withServer { server in
            let response = try HTTPProbe.request(port: server.port, method: "HEAD")
            #expect(response.status == 200)
            #expect(response.headers["content-length"] == String(Self.sample.utf8.count))
            #expect(response.body.isEmpty)
        }
    }

    @Test("404 for other paths, 405 (Allow: GET, HEAD) for other methods, 400 for garbage, 505 for HTTP/2")
    func errors() throws {
        try Self.withServer { server in
            #expect(try HTTPProbe.request(port: server.port, path: "/").status == 404)
            #expect(try HTTPProbe.request(port: server.port, path: "/metricsx").status == 404)
            let post = try HTTPProbe.request(port: server.port, method: "POST")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET, HEAD")
            #expect(try HTTPProbe.exchange(port: server.port, Array("hello\r\n\r\n".utf8)).status == 400)
            #expect(try HTTPProbe.exchange(port: server.port, Array("GET /metrics\r\n\r\n".utf8)).status == 400)
            #expect(try HTTPProbe.exchange(port: server.port, Array("GET /metrics FTP/1.0\r\n\r\n".utf8)).status == 400)
            #expect(try HTTPProbe.exchange(port: server.port, Array("GET\u{01} /metrics HTTP/1.1\r\n\r\n".utf8)).status == 400)
            #expect(try HTTPProbe.exchange(port: server.port, Array("GET /metrics HTTP/2.0\r\n\r\n".utf8)).status == 505)
            // A request that ends before its head is complete: 400.
            #expect(try HTTPProbe.exchange(port: server.port, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8)).status == 400)
            // Still serving after all that.
            #expect(try HTTPProbe.request(port: server.port).status == 200)
        }
    }

    @Test("a request head over 8 KiB gets 431 and the server keeps serving")
    func oversized() throws {
        try Self.withServer { (server: MetricsHTTPServer) throws in
            let huge = "GET /metrics HTTP/1.1\r\nX-Filler: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
            #expect(try HTTPProbe.exchange(port: server.port, Array(huge.utf8)).status == 431)
            #expect(try HTTPProbe.request(port: server.port).status == 200)
        }
    }

    @Test("a port in use is an error with a code and the address; a bad host is a resolve error")
    func bindErrors() throws {
        let first = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { [] }
        #expect {
            _ = try MetricsHTTPServer(host: "127.0.0.1", port: first.port) { [] }
        } throws: { error in
            let error = error as? MetricsServerError
            return error?.code == .bind && error?.description.contains("127.0.0.1:\(first.port)") == true
        }
        #expect {
            _ = try MetricsHTTPServer(host: "no such host.invalid", port: 0) { [] }
        } throws: { error in
            (error as? MetricsServerError)?.code == .resolve
        }
    }

    @Test("stop() ends the thread and closes the port")
    func stop() async throws {
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { [] }
        server.start()
        #expect(HTTPProbe.isListening(port: server.port))
        server.stop()
        let deadline = ContinuousClock.now + .seconds(5)
        while !server.isFinished, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(server.isFinished)
        #expect(!HTTPProbe.isListening(port: server.port))
    }
}
