public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server` of the test's own: a free loopback port, a temporary directory, no RDB snapshots. The one
/// way tests start a server they may stop, kill, pause or restart, which the shared server must never see:
/// passwords and ACL users, TLS (``Options/certificates``), a replica (``Options/replicaOf``), a sentinel
/// (``Options/sentinel``), an append-only file that survives a SIGKILL (``Options/durable``).
///
/// ``start(timeout:)`` returns once the server answers PING (on a raw socket, or over TLS with `redis-cli`, the
/// system's own client: the fixture does not test oauthq's client with itself). Call ``stop()`` at the end.
public final class RedisTestServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched by start/kill/pause/resume/stop, which a test calls in
    // sequence; everything else is immutable.

    /// How the server is configured.
    public struct Options: Sendable {
        /// `requirepass` (for a sentinel: the password clients of the sentinel need).
        public var password: String?
        /// Serve TLS only (`--port 0 --tls-port PORT`, replication over TLS too) with these certificates.
        public var certificates: TestCertificates?
        /// With ``certificates``: refuse clients without a certificate signed by the test CA.
        public var requireClientCertificates: Bool
        /// An append-only file with `appendfsync always`: a SIGKILL loses no write, and ``start(timeout:)``
        /// after ``kill()`` comes back with the data.
        public var durable: Bool
        /// Also listen on ``unixSocketPath`` (mode 700).
        public var unixSocket: Bool
        /// Replicate the server on this loopback port.
        public var replicaOf: Int?
        /// Run as a sentinel (`redis-server sentinel.conf --sentinel`) instead of a data server.
        public var sentinel: Sentinel?

        public init(
            password: String? = nil,
            certificates: TestCertificates? = nil,
            requireClientCertificates: Bool = false,
            durable: Bool = false,
            unixSocket: Bool = false,
            replicaOf: Int? = nil,
            sentinel: Sentinel? = nil
        ) {
            self.password = password
            self.certificates = certificates
            self.requireClientCertificates = requireClientCertificates
            self.durable = durable
            self.unixSocket = unixSocket
            self.replicaOf = replicaOf
            self.sentinel = sentinel
        }
    }

    /// What a sentinel monitors: one master on loopback, declared down after `downAfterMilliseconds`, with a
    /// quorum of 1.
    public struct Sentinel: Sendable {
        public var masterName: String
        public var masterPort: Int
        public var downAfterMilliseconds: Int
        public var failoverTimeoutMilliseconds: Int

        public init(masterName: String, masterPort: Int, downAfterMilliseconds: Int = 1000, failoverTimeoutMilliseconds: Int = 10_000) {
            self.masterName = masterName
            self.masterPort = masterPort
            self.downAfterMilliseconds = downAfterMilliseconds
            self.failoverTimeoutMilliseconds = failoverTimeoutMilliseconds
        }
    }

    public static let executable = URL(fileURLWithPath: "/usr/bin/redis-server")
    public static let client = URL(fileURLWithPath: "/usr/bin/redis-cli")

    /// Whether tests that start their own server should run: when `redis-server` is installed, and always
    /// under CI (where a missing server must fail the test, not skip it).
    public static var isAvailable: Bool {
        TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: executable.path)
    }

    /// The loopback port: plain TCP, or TLS with ``Options/certificates``.
    public let port: Int
    public let options: Options
    /// The server's own directory (log, pid file, append-only file, socket, sentinel.conf).
    public let directory: URL
    private var process: Process?

    /// Reserves a free port and a directory; ``start(timeout:)`` launches the server.
    public init(_ options: Options = Options()) throws {
        self.options = options
        self.port = try TestEnvironment.freeLoopbackPort()
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        stop()
    }

    /// The Unix socket, with ``Options/unixSocket``.
    public var unixSocketPath: String { directory.appendingPathComponent("redis.sock").path }
    public var logPath: String { directory.appendingPathComponent("redis.log").path }

    /// `redis://127.0.0.1:PORT/DB`, or with TLS `rediss://localhost:PORT/DB?ssl_ca_certs=CA` (the test certificate
    /// names only `localhost`). `extra` is appended as is (with TLS: more query parameters, starting with `&`).
    /// No password: tests put the one they mean into the URL themselves.
    public func url(host: String? = nil, database: Int = 0, _ extra: String = "") -> String {
        if let certificates = options.certificates {
            return "rediss://\(host ?? "localhost"):\(port)/\(database)?ssl_ca_certs=\(certificates.caFile)\(extra)"
        }
        return "redis://\(host ?? "127.0.0.1"):\(port)/\(database)\(extra)"
    }

    public var isRunning: Bool { process?.isRunning ?? false }

    // MARK: - Lifecycle

    /// Launches the server (again, after ``kill()``: same port and directory) and returns once it answers
    /// PING; throws with the end of its log when it exits or does not answer within `timeout`.
    public func start(timeout: Duration = .seconds(15)) throws {
        guard !isRunning else { throw FixtureError(message: "redis-server on port \(port) is already running") }
        // After stop() the directory is gone: a restart gets a fresh one (same port, no data).
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = try arguments()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                self.process = nil
                throw FixtureError(message: "redis-server on port \(port) exited at start: \(logTail())")
            }
            if answersPing() { return }
            usleep(20_000)
        }
        kill()
        throw FixtureError(message: "redis-server on port \(port) did not answer PING within \(timeout): \(logTail())")
    }

    /// SIGKILL, then waits for the exit; keeps the directory, so ``start(timeout:)`` can bring it back.
    ///
    /// SIGKILL, not SIGTERM: a process spawned from a libdispatch worker thread inherits its signal mask, in
    /// which SIGTERM may be blocked, so redis-server would never see it.
    public func kill() {
        if let process, process.isRunning {
            resume()
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        process = nil
    }

    /// SIGSTOP: the server keeps its connections open but answers nothing until ``resume()``.
    public func pause() {
        if let process, process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGSTOP) }
    }

    /// SIGCONT after ``pause()``.
    public func resume() {
        if let process, process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGCONT) }
    }

    /// Kills the server and removes its directory.
    public func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - redis-cli

    /// Runs `redis-cli` against this server (with its password and TLS settings) and returns what it printed;
    /// nil when redis-cli could not be run.
    public func cli(_ arguments: [String]) -> String? {
        var argv = ["-h", "127.0.0.1", "-p", String(port)]
        if let password = options.password { argv += ["--no-auth-warning", "-a", password] }
        if let certificates = options.certificates {
            argv += ["--tls", "--cacert", certificates.caFile, "--sni", "localhost"]
            if options.requireClientCertificates {
                argv += ["--cert", certificates.clientCertificate, "--key", certificates.clientKey]
            }
        }
        return (try? ProcessRunner.run(Self.client, argv + arguments))?.stdout
    }

    /// True once PING gets PONG (not an error such as LOADING; with a password, NOAUTH will do). Plain TCP: one
    /// PING written on a raw socket; TLS: once the port accepts connections, `redis-cli --tls PING`.
    private func answersPing() -> Bool {
        guard options.certificates == nil else {
            return TCPProbe.isListening(host: "127.0.0.1", port: port)
                && cli(["PING"])?.trimmingCharacters(in: .whitespacesAndNewlines) == "PONG"
        }
        guard let fd = TCPProbe.connected(host: "127.0.0.1", port: port) else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)  // a server that accepts but never answers is not ready
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("PING\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return false }
        let reply = String(decoding: buffer[0..<count], as: UTF8.self)
        return reply.hasPrefix("+PONG") || (options.password != nil && reply.hasPrefix("-NOAUTH"))
    }

    private func logTail() -> String {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").suffix(5).joined(separator: " | ")
    }

    // MARK: - Configuration

    private func arguments() throws -> [String] {
        let files = [
            "--logfile", logPath, "--pidfile", directory.appendingPathComponent("redis.pid").path, "--daemonize", "no",
        ]
        if let sentinel = options.sentinel {
            let file = directory.appendingPathComponent("sentinel.conf")
            // Written once: the sentinel rewrites its file with what it learns (a failover too), and a restart keeps that.
            if !FileManager.default.fileExists(atPath: file.path) {
                try sentinelConfiguration(sentinel).write(to: file, atomically: true, encoding: .utf8)
            }
            return [file.path, "--sentinel"] + files
        }
        var arguments = ["--bind", "127.0.0.1", "--dir", directory.path, "--save", ""] + files + listening()
        arguments += options.durable ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        if options.unixSocket { arguments += ["--unixsocket", unixSocketPath, "--unixsocketperm", "700"] }
        if let password = options.password { arguments += ["--requirepass", password] }
        if let master = options.replicaOf { arguments += ["--replicaof", "127.0.0.1", String(master)] }
        return arguments
    }

    /// The port arguments: plain, or TLS only.
    private func listening() -> [String] {
        guard let certificates = options.certificates else { return ["--port", String(port)] }
        return [
            "--port", "0", "--tls-port", String(port), "--tls-cert-file", certificates.serverCertificate,
            "--tls-key-file", certificates.serverKey, "--tls-ca-cert-file", certificates.caFile,
            "--tls-auth-clients", options.requireClientCertificates ? "yes" : "no", "--tls-replication", "yes",
        ]
    }

    private func sentinelConfiguration(_ sentinel: Sentinel) -> String {
        var lines = [
            "bind 127.0.0.1",
            "dir \(directory.path)",
            "sentinel monitor \(sentinel.masterName) 127.0.0.1 \(sentinel.masterPort) 1",
            "sentinel down-after-milliseconds \(sentinel.masterName) \(sentinel.downAfterMilliseconds)",
            "sentinel failover-timeout \(sentinel.masterName) \(sentinel.failoverTimeoutMilliseconds)",
            "sentinel parallel-syncs \(sentinel.masterName) 1",
        ]
        if let certificates = options.certificates {
            lines += [
                "port 0", "tls-port \(port)", "tls-cert-file \(certificates.serverCertificate)",
                "tls-key-file \(certificates.serverKey)", "tls-ca-cert-file \(certificates.caFile)",
                "tls-auth-clients no", "tls-replication yes",
            ]
        } else {
            lines.append("port \(port)")
        }
        if let password = options.password { lines.append("requirepass \(password)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
