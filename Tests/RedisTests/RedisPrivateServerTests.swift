import Foundation
import Redis
import TestSupport
import Testing

/// Tests that need a server of their own: passwords, ACL users, a Unix socket, a server that stops.
/// Each test starts a redis-server on a free loopback port and stops it at the end.
@Suite("RedisConnection against a private redis-server", .enabled(if: RedisTestServer.isAvailable))
struct RedisPrivateServerTests {
    static let password = "pw-\(UUID().uuidString)"

    @Test("AUTH with the right password over TCP and over a Unix socket with a db")
    func rightPassword() async throws {
        let server = try RedisTestServer(.init(password: Self.password, unixSocket: true))
        try server.start()
        defer { server.stop() }

        let tcp = try await RedisConnection.connect(RedisConfiguration(url: "redis://:\(Self.password)@127.0.0.1:\(server.port)/2"))
        #expect(try await tcp.command("PING") == .status("PONG"))
        #expect(try await tcp.command("CLIENT", "INFO").string?.contains(" db=2 ") == true)

        let encodedPath = server.unixSocketPath.replacingOccurrences(of: " ", with: "%20")
        let unix = try await RedisConnection.connect(RedisConfiguration(url: "unix://:\(Self.password)@\(encodedPath)?db=3"))
        #expect(try await unix.command("PING") == .status("PONG"))
        let info = try #require(try await unix.command("CLIENT", "INFO").string)
        #expect(info.contains(" db=3 "))
        #expect(info.contains("addr=/") || info.contains("laddr=\(server.unixSocketPath)") || info.contains("flags=U"))
    }

    @Test("a wrong password throws .server WRONGPASS without the password in the description")
    func wrongPassword() async throws {
        let server = try RedisTestServer(.init(password: Self.password))
        try server.start()
        defer { server.stop() }

        let wrong = "wrong-hunter2"
        let configuration = try RedisConfiguration(url: "redis://:\(wrong)@127.0.0.1:\(server.port)")
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(configuration) }
        #expect(error.code == .server)
        #expect(error.serverPrefix == "WRONGPASS")
        #expect(error.message.contains("AUTH failed"))
        #expect(!error.isTransient)
        #expect(!error.localizedDescriptionForTests.contains(wrong))
        #expect(!error.localizedDescriptionForTests.contains(Self.password))

        // Retrying does not help with a wrong password: it fails at once.
        await #expect(throws: RedisError.self) {
            try await RedisConnection.connect(configuration, retrying: RedisReconnectPolicy(initialDelay: .seconds(10), maxAttempts: 3))
        }
    }

    @Test("no password on a requirepass server: commands throw NOAUTH")
    func noPassword() async throws {
        let server = try RedisTestServer(.init(password: Self.password))
        try server.start()
        defer { server.stop() }

        let redis = try await RedisConnection.connect(RedisConfiguration(url: server.url()))
        let error = try await #require(throws: RedisError.self) { try await redis.command("GET", "k") }
        #expect(error.code == .server)
        #expect(error.serverPrefix == "NOAUTH")
        #expect(await redis.isAlive)
    }

    @Test("AUTH user password for an ACL user")
    func aclUser() async throws {
        let server = try RedisTestServer(.init(password: Self.password))
        try server.start()
        defer { server.stop() }

        let admin = try await RedisConnection.connect(RedisConfiguration(url: "redis://:\(Self.password)@127.0.0.1:\(server.port)"))
        let user = "worker_\(Int.random(in: 1000...9999))"
        let userPassword = "p@ss:w/rd-\(Int.random(in: 1000...9999))"
        #expect(try await admin.command("ACL", "SETUSER", user, "on", ">\(userPassword)", "~*", "&*", "+@all") == .status("OK"))

        let encoded = userPassword.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let worker = try await RedisConnection.connect(RedisConfiguration(url: "redis://\(user):\(encoded)@127.0.0.1:\(server.port)"))
        #expect(try await worker.command("ACL", "WHOAMI") == .bulk(bytes(user)))

        let bad = try RedisConfiguration(url: "redis://\(user):nope-\(encoded)@127.0.0.1:\(server.port)")
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(bad) }
        #expect(error.serverPrefix == "WRONGPASS")
        #expect(!error.localizedDescriptionForTests.contains(userPassword))
        #expect(try await admin.command("ACL", "DELUSER", user) == .integer(1))
    }

    @Test("the server stops mid-session: the connection dies, later calls throw, a new connect fails cleanly")
    func serverStops() async throws {
        let server = try RedisTestServer()
        try server.start()
        defer { server.stop() }

        let redis = try await RedisConnection.connect(RedisConfiguration(url: server.url()))
        #expect(try await redis.command("PING") == .status("PONG"))
        server.kill()
        let error = try await #require(throws: RedisError.self) { try await redis.command("PING") }
        #expect([.eof, .io].contains(error.code))
        #expect(await !redis.isAlive)
        let later = try await #require(throws: RedisError.self) { try await redis.command("PING") }
        #expect(later.code == .connectionClosed)
        let reconnect = try await #require(throws: RedisError.self) {
            try await RedisConnection.connect(RedisConfiguration(url: server.url()))
        }
        #expect(reconnect.code == .io)
    }

    @Test("a paused server (SIGSTOP): a command ends with .timeout and drops the connection; after SIGCONT a new one works")
    func serverPaused() async throws {
        let server = try RedisTestServer()
        try server.start()
        defer { server.stop() }

        let redis = try await RedisConnection.connect(RedisConfiguration(url: server.url(), commandTimeout: .milliseconds(300)))
        #expect(try await redis.command("PING") == .status("PONG"))
        server.pause()
        let clock = ContinuousClock()
        let start = clock.now
        let error = try await #require(throws: RedisError.self) { try await redis.command("PING") }
        #expect(error.code == .timeout)
        #expect(clock.now - start < .seconds(10), "the 300 ms command timeout, not the server, ended the call")
        #expect(await !redis.isAlive)
        server.resume()
        let again = try await RedisConnection.connect(RedisConfiguration(url: server.url()))
        #expect(try await again.command("PING") == .status("PONG"))
    }

    @Test("connect(retrying:) succeeds once the server comes up")
    func retryUntilUp() async throws {
        let server = try RedisTestServer()
        defer { server.stop() }
        let configuration = try RedisConfiguration(url: server.url())
        let connecting = Task {
            try await RedisConnection.connect(
                configuration,
                retrying: RedisReconnectPolicy(initialDelay: .milliseconds(50), maxDelay: .milliseconds(200), maxAttempts: 50)
            )
        }
        try await Task.sleep(for: .milliseconds(300))
        try server.start()
        let redis = try await connecting.value
        #expect(try await redis.command("PING") == .status("PONG"))
    }
}
