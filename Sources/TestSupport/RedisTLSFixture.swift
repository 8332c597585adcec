public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Certificates made by the `openssl` CLI at test time, in a temporary directory: a CA, a server
/// certificate for `localhost` only (DNS name, no IP address, so `127.0.0.1` is a host name mismatch),
/// a client certificate for mutual TLS, and a second CA nobody trusts.
public struct TestCertificates: Sendable {
    public let directory: URL
    public var caFile: String { path("ca.crt") }
    public var serverCertificate: String { path("server.crt") }
    public var serverKey: String { path("server.key") }
    public var clientCertificate: String { path("client.crt") }
    public var clientKey: String { path("client.key") }
    /// A CA that did not sign the server's certificate.
    public var otherCAFile: String { path("other-ca.crt") }

    public func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Generates everything (RSA 2048, valid for a day). Throws when `openssl` fails.
    public static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oauthq-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=oauthq test CA"],
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "1", "-subj", "/CN=oauthq other CA"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "server.ext"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=oauthq worker"],
            ["x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", "-days", "1", "-extfile", "client.ext"],
        ]
        try "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n".write(
            to: directory.appendingPathComponent("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(to: directory.appendingPathComponent("client.ext"), atomically: true, encoding: .utf8)
        for arguments in steps {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = directory
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw FixtureError(message: "openssl \(arguments.prefix(2).joined(separator: " ")) failed (\(process.terminationStatus))")
            }
        }
        return certificates
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A failure setting up a test fixture.
public struct FixtureError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A redis-server of the test's own with TLS only (`--port 0 --tls-port P`) on loopback, using
/// ``TestCertificates``; optionally with a plain port too, and requiring client certificates.
public final class TLSRedisServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched by start()/stop(), which a test calls in sequence.
    public let tlsPort: Int
    public let certificates: TestCertificates
    public let requireClientCertificates: Bool
    private let directory: URL
    private var process: Process?

    public init(certificates: TestCertificates, requireClientCertificates: Bool = false) throws {
        self.tlsPort = try TestEnvironment.freeLoopbackPort()
        self.certificates = certificates
        self.requireClientCertificates = requireClientCertificates
        self.directory = certificates.directory.appendingPathComponent("redis-\(tlsPort)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// `rediss://localhost:PORT` with the test CA, plus `extra` query parameters.
    public func url(host: String = "localhost", _ extra: String = "") -> String {
        "rediss://\(host):\(tlsPort)/0?ssl_ca_certs=\(certificates.caFile)\(extra)"
    }

    /// Starts the server and waits (at most 10 s) until its TLS port accepts connections.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = [
            "--bind", "127.0.0.1", "--port", "0", "--tls-port", String(tlsPort),
            "--tls-cert-file", certificates.serverCertificate, "--tls-key-file", certificates.serverKey,
            "--tls-ca-cert-file", certificates.caFile,
            "--tls-auth-clients", requireClientCertificates ? "yes" : "no",
            "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path,
            "--pidfile", directory.appendingPathComponent("redis.pid").path,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if TCPProbe.isListening(host: "127.0.0.1", port: tlsPort) { return }
            usleep(20_000)
        }
        stop()
        throw FixtureError(message: "redis-server --tls-port did not start (see \(directory.path)/redis.log)")
    }

    /// Kills the server (SIGKILL: a process spawned from a dispatch thread may have SIGTERM blocked).
    public func stop() {
        if let process, process.isRunning {
            _ = kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        process = nil
    }
}
