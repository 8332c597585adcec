#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Where the integration tests find their servers, and what to do when one is missing.
///
/// `scripts/test.sh` starts Redis and PostgreSQL on loopback (`scripts/services.sh up`) and exports
/// `REDIS_URL` and `DATABASE_URL`; the defaults below are that script's defaults. When `CI` is set, a
/// server that does not answer is a test failure, never a skip.
public enum TestEnvironment {
    /// `REDIS_URL`, or the services script's default.
    public static var redisURL: String {
        env("REDIS_URL") ?? "redis://127.0.0.1:6390/0"
    }

    /// `DATABASE_URL`, or the services script's default.
    public static var databaseURL: String {
        env("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:5440/oauthq"
    }

    /// True when running under CI (`CI` set to anything but empty, `0` or `false`).
    public static var isCI: Bool {
        guard let value = env("CI") else { return false }
        return !["", "0", "false"].contains(value.lowercased())
    }

    /// Whether an integration test that needs the server at `host:port` should run: true when it
    /// answers. When it does not, false locally (the test is skipped), but true under CI, so the
    /// test runs, fails to connect, and fails.
    public static func shouldRun(host: String = "127.0.0.1", port: Int) -> Bool {
        isCI || TCPProbe.isListening(host: host, port: port)
    }

    /// Whether Redis tests should run (see ``shouldRun(host:port:)``).
    public static var shouldRunRedis: Bool {
        shouldRun(port: port(of: redisURL) ?? 6379)
    }

    /// Whether PostgreSQL tests should run (see ``shouldRun(host:port:)``).
    public static var shouldRunPostgres: Bool {
        shouldRun(port: port(of: databaseURL) ?? 5432)
    }

    /// A fresh name for keys, schemas or databases, unique across parallel tests: `prefix_<12 hex>`.
    public static func uniqueName(_ prefix: String) -> String {
        let hex = (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return "\(prefix)_\(hex)"
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now (bound to port 0, then released), for
    /// a private server a test starts.
    public static func freeLoopbackPort() throws -> Int {
        let (fd, port) = try TCPProbe.boundLoopbackSocket(listening: false)
        close(fd)
        return port
    }

    static func env(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }

    static func port(of url: String) -> Int? {
        URLComponents(string: url)?.port
    }
}

/// Plain TCP sockets on loopback: connections for readiness checks, and ephemeral ports for servers a test starts.
public enum TCPProbe {
    /// A socket bound to `127.0.0.1:0` (listening, if asked: backlog 16) and the port the kernel gave it; the
    /// caller closes the descriptor.
    static func boundLoopbackSocket(listening: Bool) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && (!listening || listen(fd, 16) == 0) && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    public static func isListening(host: String, port: Int) -> Bool {
        guard let fd = connected(host: host, port: port) else { return false }
        close(fd)
        return true
    }

    /// A blocking TCP connection to an IPv4 `host:port`; the caller closes the descriptor. Nil when refused.
    public static func connected(host: String, port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = inet_pton(AF_INET, host, &address.sin_addr) == 1 ? withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } : -1
        guard result == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
