import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// One master, one replica and one sentinel (`redis-server --sentinel`) of the test's own, on free
/// loopback ports, without persistence. The sentinel declares the master down after 1 s and fails over.
final class SentinelCluster: @unchecked Sendable {
    // @unchecked Sendable: the processes are only touched by start()/kill…()/stop(), called in sequence.
    static let masterName = "oauthq-test"
    let directory: URL
    let masterPort: Int
    let replicaPort: Int
    let sentinelPort: Int
    let sentinelPassword: String?
    /// With certificates, every server listens on TLS only (`--port 0 --tls-port`), replication included.
    let certificates: TestCertificates?
    private var processes: [String: Process] = [:]

    var sentinelURL: String { "sentinel://127.0.0.1:\(sentinelPort)/0" }

    init(sentinelPassword: String? = nil, certificates: TestCertificates? = nil) throws {
        self.certificates = certificates
        masterPort = try TestEnvironment.freeLoopbackPort()
        replicaPort = try TestEnvironment.freeLoopbackPort()
        sentinelPort = try TestEnvironment.freeLoopbackPort()
        self.sentinelPassword = sentinelPassword
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-sentinel-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Starts the three servers; returns once the sentinel knows the master and its replica.
    func start() throws {
        try launch("master", serving(masterPort))
        try launch("replica", serving(replicaPort) + ["--replicaof", "127.0.0.1", String(masterPort)])
        var configuration = """
            \(certificates == nil ? "port \(sentinelPort)" : "port 0\ntls-port \(sentinelPort)")
            bind 127.0.0.1
            dir \(directory.path)
            sentinel monitor \(Self.masterName) 127.0.0.1 \(masterPort) 1
            sentinel down-after-milliseconds \(Self.masterName) 1000
            sentinel failover-timeout \(Self.masterName) 10000
            sentinel parallel-syncs \(Self.masterName) 1

            """
        if let sentinelPassword { configuration += "requirepass \(sentinelPassword)\n" }
        if let certificates {
            configuration += """
                tls-cert-file \(certificates.serverCertificate)
                tls-key-file \(certificates.serverKey)
                tls-ca-cert-file \(certificates.caFile)
                tls-auth-clients no
                tls-replication yes

                """
        }
        let file = directory.appendingPathComponent("sentinel.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        try launch("sentinel", [file.path, "--sentinel"], listening: sentinelPort)
        // The sentinel learns of the replica from the master's INFO (every 10 s at first): wait for it.
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if sentinelKnowsReplica() { return }
            usleep(100_000)
        }
        throw FixtureError(message: "the sentinel did not discover the replica in 30 s")
    }

    /// The port arguments of a data server: plain, or TLS only.
    private func serving(_ port: Int) -> [String] {
        guard let certificates else { return ["--port", String(port)] }
        return [
            "--port", "0", "--tls-port", String(port), "--tls-cert-file", certificates.serverCertificate,
            "--tls-key-file", certificates.serverKey, "--tls-ca-cert-file", certificates.caFile,
            "--tls-auth-clients", "no", "--tls-replication", "yes",
        ]
    }

    private func launch(_ name: String, _ arguments: [String], listening port: Int? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        var all = arguments
        if !arguments.contains("--sentinel") {
            all += ["--bind", "127.0.0.1", "--dir", directory.path, "--save", "", "--appendonly", "no",
                    "--dbfilename", "\(name).rdb"]
        }
        all += ["--logfile", directory.appendingPathComponent("\(name).log").path, "--daemonize", "no"]
        process.arguments = all
        try process.run()
        processes[name] = process
        let port = port ?? (name == "master" ? masterPort : replicaPort)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if TCPProbe.isListening(host: "127.0.0.1", port: port) { return }
            usleep(20_000)
        }
        throw FixtureError(message: "redis-server \(name) did not start")
    }

    /// Asks the sentinel with redis-cli (the system's own client), so the fixture does not test itself.
    func sentinel(_ arguments: String...) -> String {
        var argv = ["-h", "127.0.0.1", "-p", String(sentinelPort)]
        if let sentinelPassword { argv += ["--no-auth-warning", "-a", sentinelPassword] }
        if let certificates { argv += ["--tls", "--cacert", certificates.caFile, "--sni", "localhost"] }
        let output = try? ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/redis-cli"), argv + arguments)
        return output?.stdout ?? ""
    }

    private func sentinelKnowsReplica() -> Bool {
        sentinel("SENTINEL", "replicas", Self.masterName).contains(String(replicaPort))
    }

    /// The port the sentinel names as the master now.
    func currentMasterPort() -> Int? {
        let lines = sentinel("SENTINEL", "get-master-addr-by-name", Self.masterName).split(separator: "\n")
        return lines.count == 2 ? Int(lines[1].trimmingCharacters(in: .whitespaces)) : nil
    }

    /// SIGKILL one of "master", "replica", "sentinel".
    func kill(_ name: String) {
        if let process = processes[name], process.isRunning {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func stop() {
        for name in ["sentinel", "replica", "master"] { kill(name) }
        try? FileManager.default.removeItem(at: directory)
    }
}
