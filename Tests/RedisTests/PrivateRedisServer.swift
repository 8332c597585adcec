import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A redis-server of the test's own, on a free loopback port and a Unix socket in a temporary
/// directory, without persistence. Used for `requirepass`/ACL tests and for stopping a server mid-test,
/// which the shared server must never see. Call ``stop()`` at the end.
final class PrivateRedisServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched by start()/stop(), which a test calls in sequence.
    let port: Int
    let directory: URL
    let password: String?
    private var process: Process?

    var unixSocketPath: String { directory.appendingPathComponent("redis.sock").path }
    var tcpURL: String { "redis://127.0.0.1:\(port)" }

    /// Reserves a port and a directory; `start` launches the server.
    init(password: String? = nil) throws {
        self.port = try Self.freeLoopbackPort()
        self.password = password
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("oauthq-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Starts the server and waits until it accepts connections (at most 5 s).
    func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        var arguments = [
            "--bind", "127.0.0.1", "--port", String(port),
            "--unixsocket", unixSocketPath, "--unixsocketperm", "700",
            "--dir", directory.path,
            "--pidfile", directory.appendingPathComponent("redis.pid").path,
            "--logfile", directory.appendingPathComponent("redis.log").path,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]
        if let password { arguments += ["--requirepass", password] }
        process.arguments = arguments
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if Self.isListening(port: port) && FileManager.default.fileExists(atPath: unixSocketPath) { return }
            usleep(10_000)
        }
        stop()
        throw CocoaError(.fileReadUnknown)
    }

    /// Stops the server (SIGKILL, then waits) and removes its directory.
    func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Kills the server (SIGKILL) but keeps the directory.
    ///
    /// SIGKILL, not `terminate()` (SIGTERM): a process spawned from a libdispatch worker thread inherits
    /// its signal mask, in which SIGTERM is blocked, so redis-server would never see it.
    func kill() {
        if let process, process.isRunning {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        process = nil
    }

    /// A port on 127.0.0.1 that nothing listens on right now (bind to 0, read it, close).
    static func freeLoopbackPort() throws -> Int {
        try TestEnvironment.freeLoopbackPort()
    }

    static func isListening(port: Int) -> Bool {
        TCPProbe.isListening(host: "127.0.0.1", port: port)
    }
}
