import Foundation
import Redis
import TestSupport
import Testing

/// `sentinel://` against a real Sentinel: one master, one replica, one sentinel of the test's own.
@Suite(
    "RedisConnection through Redis Sentinel",
    .enabled(if: RedisTestServer.isAvailable),
    .serialized
)
struct RedisSentinelTests {
    func configuration(_ cluster: SentinelCluster, master: String? = SentinelCluster.masterName) throws -> RedisConfiguration {
        var configuration = try RedisConfiguration(url: cluster.sentinelURL, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
        configuration.sentinelMaster = master
        configuration.sentinelPassword = cluster.sentinelPassword
        return configuration
    }

    @Test("the master is resolved through the sentinel and verified; a replica answers -READONLY as a transient failover error")
    func resolve() async throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        try cluster.start()
        let redis = try await RedisConnection.connect(configuration(cluster))
        #expect(try await redis.command("CONFIG", "GET", "port") == .array([.bulk(bytes("port")), .bulk(bytes(String(cluster.masterPort)))]))
        #expect(try await redis.command("ROLE").array?.first == .bulk(bytes("master")))
        #expect(try await redis.command("SET", "k", "v") == .status("OK"))

        let replica = try await RedisConnection.connect(RedisConfiguration(url: "redis://127.0.0.1:\(cluster.replicaPort)"))
        let error = try await #require(throws: RedisError.self) { try await replica.command("SET", "k", "w") }
        #expect(error.code == .failover)
        #expect(error.serverPrefix == "READONLY")
        #expect(error.isTransient)
        #expect(await !replica.isAlive)
        let inPipeline = try await RedisConnection.connect(RedisConfiguration(url: "redis://127.0.0.1:\(cluster.replicaPort)"))
        await #expect(throws: RedisError.self) { try await inPipeline.pipeline([["GET", "k"].map(bytes), ["SET", "k", "w"].map(bytes)]) }
        #expect(await !inPipeline.isAlive)
    }

    @Test("no master name, an unknown master name, no sentinel answering: one clear error each")
    func misconfigured() async throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        try cluster.start()
        let noName = try await #require(throws: RedisError.self) { try await RedisConnection.connect(configuration(cluster, master: nil)) }
        #expect(noName.code == .invalidConfiguration)
        #expect(noName.message.contains("--sentinel-master"))
        let unknown = try await #require(throws: RedisError.self) { try await RedisConnection.connect(configuration(cluster, master: "nope")) }
        #expect(unknown.code == .invalidConfiguration)
        #expect(unknown.message.contains("'nope'"))
        #expect(!unknown.isTransient)

        var nobody = try configuration(cluster)
        nobody.endpoint = .sentinel(nodes: [.init(host: "127.0.0.1", port: try TestEnvironment.freeLoopbackPort())])
        let down = try await #require(throws: RedisError.self) { try await RedisConnection.connect(nobody) }
        #expect(down.isTransient)
        #expect(down.message.contains("refused"))
    }

    @Test("a dead first sentinel is skipped; a sentinel password is sent, and its absence is a permanent NOAUTH")
    func sentinelsInOrderAndPassword() async throws {
        let password = "sentinel-\(UUID().uuidString.prefix(8))"
        let cluster = try SentinelCluster(sentinelPassword: password)
        defer { cluster.stop() }
        try cluster.start()
        var configuration = try configuration(cluster)
        let deadPort = try TestEnvironment.freeLoopbackPort()
        configuration.endpoint = .sentinel(nodes: [.init(host: "127.0.0.1", port: deadPort), .init(host: "127.0.0.1", port: cluster.sentinelPort)])
        let redis = try await RedisConnection.connect(configuration)
        #expect(try await redis.command("PING") == .status("PONG"))

        configuration.sentinelPassword = nil
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(configuration) }
        #expect(error.serverPrefix == "NOAUTH")
        #expect(!error.isTransient)
        #expect(!error.description.contains(password))
    }

    @Test("the master is killed: the old connection fails, connect(retrying:) finds the promoted replica through the sentinel")
    func failover() async throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        try cluster.start()
        let configuration = try configuration(cluster)
        let before = try await RedisConnection.connect(configuration)
        #expect(try await before.command("SET", "before", "1") == .status("OK"))
        // WAIT: the replica has the write before the master dies.
        #expect(try await before.command("WAIT", "1", "5000") == .integer(1))
        cluster.master.kill()
        let lost = try await #require(throws: RedisError.self) { try await before.command("PING") }
        #expect(lost.isTransient)

        let clock = ContinuousClock()
        let start = clock.now
        let after = try await RedisConnection.connect(
            configuration,
            retrying: RedisReconnectPolicy(initialDelay: .milliseconds(100), maxDelay: .milliseconds(500), maxAttempts: 120)
        )
        let waited = clock.now - start
        #expect(try await after.command("CONFIG", "GET", "port") == .array([.bulk(bytes("port")), .bulk(bytes(String(cluster.replicaPort)))]))
        #expect(try await after.command("GET", "before") == .bulk(bytes("1")))
        #expect(try await after.command("SET", "after", "1") == .status("OK"))
        #expect(cluster.currentMasterPort() == cluster.replicaPort)
        #expect(waited < .seconds(60))
    }

    @Test("TLS to the sentinel and to the master: ssl_* parameters on the sentinel URL")
    func tls() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let cluster = try SentinelCluster(certificates: certificates)
        defer { cluster.stop() }
        try cluster.start()
        // The sentinel names the master by IP address; the test certificate names only localhost.
        var configuration = try RedisConfiguration(
            url: "sentinel://localhost:\(cluster.sentinelPort)/0?ssl_ca_certs=\(certificates.caFile)&ssl_check_hostname=false")
        configuration.sentinelMaster = SentinelCluster.masterName
        let redis = try await RedisConnection.connect(configuration)
        #expect(try await redis.command("CONFIG", "GET", "tls-port") == .array([.bulk(bytes("tls-port")), .bulk(bytes(String(cluster.masterPort)))]))
        #expect(try await redis.command("SET", "k", "v") == .status("OK"))

        // Without the CA the sentinel itself is not trusted: a permanent TLS error, not a retry.
        var untrusted = try RedisConfiguration(url: "sentinel://localhost:\(cluster.sentinelPort)/0?ssl_cert_reqs=required")
        untrusted.sentinelMaster = SentinelCluster.masterName
        let error = try await #require(throws: RedisError.self) { try await RedisConnection.connect(untrusted) }
        #expect(error.code == .tls)
    }
}
