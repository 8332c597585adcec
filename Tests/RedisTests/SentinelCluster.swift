import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// One master, one replica and one sentinel of the test's own (three ``RedisTestServer``s). The sentinel
/// declares the master down after 1 s and fails over.
final class SentinelCluster: Sendable {
    static let masterName = "oauthq-test"
    let master: RedisTestServer
    let replica: RedisTestServer
    let sentinel: RedisTestServer

    var masterPort: Int { master.port }
    var replicaPort: Int { replica.port }
    var sentinelPort: Int { sentinel.port }
    var sentinelPassword: String? { sentinel.options.password }
    var sentinelURL: String { "sentinel://127.0.0.1:\(sentinelPort)/0" }

    /// With certificates, every server listens on TLS only, replication included.
    init(sentinelPassword: String? = nil, certificates: TestCertificates? = nil) throws {
        let master = try RedisTestServer(.init(certificates: certificates))
        self.master = master
        replica = try RedisTestServer(.init(certificates: certificates, replicaOf: master.port))
        sentinel = try RedisTestServer(
            .init(password: sentinelPassword, certificates: certificates, sentinel: .init(masterName: Self.masterName, masterPort: master.port))
        )
    }

    /// Starts the three servers; returns once the sentinel knows the master and its replica.
    func start() throws {
        try master.start()
        try replica.start()
        try sentinel.start()
        // The sentinel learns of the replica from the master's INFO (every 10 s at first): wait for it.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if ask("SENTINEL", "replicas", Self.masterName).contains(String(replicaPort)) { return }
            usleep(100_000)
        }
        throw FixtureError(message: "the sentinel did not discover the replica in 30 s")
    }

    /// Asks the sentinel with redis-cli.
    func ask(_ arguments: String...) -> String {
        sentinel.cli(arguments) ?? ""
    }

    /// The port the sentinel names as the master now.
    func currentMasterPort() -> Int? {
        let lines = ask("SENTINEL", "get-master-addr-by-name", Self.masterName).split(separator: "\n")
        return lines.count == 2 ? Int(lines[1].trimmingCharacters(in: .whitespaces)) : nil
    }

    func stop() {
        for server in [sentinel, replica, master] { server.stop() }
    }
}
