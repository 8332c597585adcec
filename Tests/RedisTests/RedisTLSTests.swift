import Foundation
import Redis
import TestSupport
import Testing

/// `rediss://` against a real `redis-server --tls-port`, with certificates made by `openssl` at test time.
/// The same behaviour as over plain TCP (pipelines, large values, pub/sub waits, timeouts), and one clear
/// error per way TLS can go wrong.
@Suite(
    "RedisConnection over TLS",
    .enabled(if: RedisTestServer.isAvailable),
    .serialized
)
final class RedisTLSTests {
    let certificates: TestCertificates
    let server: RedisTestServer

    init() throws {
        certificates = try TestCertificates.make()
        server = try RedisTestServer(.init(certificates: certificates))
        try server.start()
    }

    deinit {
        server.stop()
        certificates.remove()
    }

    func connect(_ url: String, commandTimeout: Duration = .seconds(30)) async throws -> RedisConnection {
        try await RedisConnection.connect(RedisConfiguration(url: url, commandTimeout: commandTimeout))
    }

    @Test("rediss:// with ssl_ca_certs: commands, binary values, a 10 MB value, a 1,000-command pipeline")
    func roundTrips() async throws {
        let redis = try await connect(server.url())
        #expect(try await redis.command("PING") == .status("PONG"))
        let key = bytes(TestEnvironment.uniqueName("tls"))
        let binary: [UInt8] = Array(0...255) + [0, 0x0D, 0x0A]
        #expect(try await redis.command([bytes("SET"), key, binary]) == .status("OK"))
        #expect(try await redis.command([bytes("GET"), key]) == .bulk(binary))

        var large = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
        for index in stride(from: 0, to: large.count, by: 4093) { large[index] = UInt8(truncatingIfNeeded: index) }
        #expect(try await redis.command([bytes("SET"), key, large]) == .status("OK"))
        #expect(try await redis.command([bytes("GET"), key]) == .bulk(large))

        let list = key + bytes(":list")
        let replies = try await redis.pipeline((0..<1_000).map { [bytes("RPUSH"), list, bytes("item-\($0)")] })
        #expect(replies == (1...1_000).map { RedisValue.integer(Int64($0)) })
        #expect(try await redis.command([bytes("DEL"), key, list]) == .integer(2))
        // The server has no plain port at all (`--port 0`): the connection is TLS.
        #expect(try await redis.command("CONFIG", "GET", "port") == .array([.bulk(bytes("port")), .bulk(bytes("0"))]))
    }

    @Test("rediss:// pub/sub: nextReply returns nil on timeout and keeps the connection; blocking pops and timeouts as over TCP")
    func pubSubAndTimeouts() async throws {
        let subscriber = try await connect(server.url())
        let publisher = try await connect(server.url())
        let channel = TestEnvironment.uniqueName("tls-chan")
        _ = try await subscriber.command("SUBSCRIBE", channel)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try await subscriber.nextReply(timeout: .milliseconds(200)) == nil)
        #expect(clock.now - start >= .milliseconds(190))
        #expect(await subscriber.isAlive)
        async let delivered = subscriber.nextReply(timeout: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await publisher.command("PUBLISH", channel, "hello") == .integer(1))
        #expect(try await delivered?.array?.last == .bulk(bytes("hello")))

        let blocking = try await connect(server.url(), commandTimeout: .seconds(3))
        #expect(try await blocking.command("BLPOP", TestEnvironment.uniqueName("tls"), "0.2") == .null)
        let short = try await connect(server.url(), commandTimeout: .milliseconds(300))
        let error = try await #require(throws: RedisError.self) { try await short.command("BLPOP", TestEnvironment.uniqueName("tls"), "30") }
        #expect(error.code == .timeout)
        #expect(await !short.isAlive)
    }

    @Test("query parameters: CERT_REQUIRED, optional, ssl_check_hostname=false on an IP address, none")
    func parameters() async throws {
        for url in [
            server.url(host: "localhost", "&ssl_cert_reqs=CERT_REQUIRED"),
            server.url(host: "localhost", "&ssl_cert_reqs=optional&ssl_check_hostname=true"),
            server.url(host: "127.0.0.1", "&ssl_check_hostname=false"),
            "rediss://127.0.0.1:\(server.port)?ssl_cert_reqs=none",
        ] {
            let redis = try await connect(url)
            #expect(try await redis.command("PING") == .status("PONG"), "\(url)")
        }
    }

    @Test("certificate not trusted: the system store alone, or another CA")
    func untrusted() async throws {
        for url in ["rediss://localhost:\(server.port)", "rediss://localhost:\(server.port)?ssl_ca_certs=\(certificates.otherCAFile)"] {
            let error = try await #require(throws: RedisError.self) { try await connect(url) }
            #expect(error.code == .tls)
            #expect(!error.isTransient)
            #expect(error.message.contains("not trusted"))
            #expect(error.message.contains("ssl_ca_certs"))
            #expect(!error.message.contains("\n"))
        }
    }

    @Test("host name mismatch: the certificate names localhost, the URL 127.0.0.1")
    func hostnameMismatch() async throws {
        let error = try await #require(throws: RedisError.self) { try await connect(server.url(host: "127.0.0.1")) }
        #expect(error.code == .tls)
        #expect(error.message.contains("hostname mismatch"))
        #expect(error.message.contains("127.0.0.1"))
    }

    @Test("a plain client on the TLS port fails at its first reply with a hint to use rediss://")
    func plainClientOnTLSPort() async throws {
        let redis = try await connect("redis://localhost:\(server.port)")
        let error = try await #require(throws: RedisError.self) { try await redis.command("PING") }
        #expect([.eof, .io].contains(error.code))
        #expect(error.message.contains("use rediss://"))
        // With a password the AUTH of the connect itself fails the same way.
        let withPassword = try await #require(throws: RedisError.self) { try await connect("redis://:pw@localhost:\(server.port)") }
        #expect(withPassword.message.contains("use rediss://"))
    }

    @Test("a TLS client on a plain port fails within the connect timeout, naming the plain port")
    func tlsClientOnPlainPort() async throws {
        let plain = try RedisTestServer()
        try plain.start()
        defer { plain.stop() }
        let configuration = try RedisConfiguration(url: "rediss://127.0.0.1:\(plain.port)?ssl_cert_reqs=none", connectTimeout: .seconds(1))
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(configuration) }
        #expect(clock.now - start < .seconds(10))
        #expect([.timeout, .tls, .eof].contains(error.code))
        #expect(error.message.contains("plain") || error.message.contains("TLS"), "\(error)")
    }

    @Test("a missing CA file, client certificate or key is one clear .tls error naming the parameter")
    func missingFiles() async throws {
        let missing = certificates.path("no-such-ca.crt")
        let error = try await #require(throws: RedisError.self) {
            try await connect("rediss://localhost:\(server.port)?ssl_ca_certs=\(missing)")
        }
        #expect(error.code == .tls)
        #expect(error.message.contains("ssl_ca_certs"))
        #expect(error.message.contains("No such file"))
        let noCertificate = try await #require(throws: RedisError.self) {
            try await connect(server.url("&ssl_certfile=\(certificates.path("nope.crt"))"))
        }
        #expect(noCertificate.code == .tls)
        #expect(noCertificate.message.contains("ssl_certfile"))
        let wrongKey = try await #require(throws: RedisError.self) {
            try await connect(server.url("&ssl_certfile=\(certificates.clientCertificate)&ssl_keyfile=\(certificates.serverKey)"))
        }
        #expect(wrongKey.code == .tls)
    }

    @Test("mutual TLS: a client certificate is accepted; without one the server refuses")
    func mutualTLS() async throws {
        let strict = try RedisTestServer(.init(certificates: certificates, requireClientCertificates: true))
        try strict.start()
        defer { strict.stop() }
        let withCertificate = try await connect(strict.url("&ssl_certfile=\(certificates.clientCertificate)&ssl_keyfile=\(certificates.clientKey)"))
        #expect(try await withCertificate.command("PING") == .status("PONG"))

        // TLS 1.3: the handshake completes on the client before the server checks; the refusal comes with
        // the first reply at the latest.
        let error = try await #require(throws: RedisError.self) {
            let redis = try await connect(strict.url())
            _ = try await redis.command("PING")
        }
        #expect([.tls, .eof, .io].contains(error.code))
        #expect(error.message.contains("client certificate") || error.message.contains("closed"), "\(error)")
    }

    @Test("connections share a TLS context until a file changes: a replaced CA file is read again")
    func rotatedCAFile() async throws {
        let path = certificates.path("rotating-ca.crt")
        try FileManager.default.copyItem(atPath: certificates.otherCAFile, toPath: path)
        let url = "rediss://localhost:\(server.port)?ssl_ca_certs=\(path)"
        let error = try await #require(throws: RedisError.self) { try await connect(url) }
        #expect(error.code == .tls)
        // The right CA now, with a new modification time.
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: certificates.caFile, toPath: path)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: path)
        let first = try await connect(url)
        let second = try await connect(url)
        #expect(try await first.command("PING") == .status("PONG"))
        #expect(try await second.command("PING") == .status("PONG"))
    }

    @Test("description shows rediss:// and redacts the password")
    func description() throws {
        let configuration = try RedisConfiguration(url: "rediss://u:hunter2@h:6380/1?ssl_cert_reqs=none")
        #expect(configuration.description == "rediss://u:***@h:6380/1?ssl_cert_reqs=none")
        #expect(configuration.tls?.verifiesCertificate == false)
    }
}
