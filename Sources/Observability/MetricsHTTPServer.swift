import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 endpoint for Prometheus scrapes: `GET /metrics` (and `HEAD`) answers 200 with the text
/// that `body` returns; any other path 404, any other method 405, a malformed request 400, a request head over
/// ``maximumRequestBytes`` 431, an HTTP version other than 1.x 505. One request per connection
/// (`Connection: close`), each on a short-lived thread of its own (never on Swift's cooperative pool), at most
/// ``maximumConcurrentConnections`` at once (more are answered 503). Each connection has one overall deadline,
/// ``requestDeadline``, for reading its request and writing the answer, so a client that trickles a byte at a
/// time (slowloris) holds a connection slot for at most that long and never delays a scrape.
public final class MetricsHTTPServer: Sendable {
    /// The largest request head (request line and headers) read.
    public static let maximumRequestBytes = 8192
    /// Socket read/write timeout per connection (each call); bounded overall by ``requestDeadline``.
    public static let ioTimeout: Duration = .seconds(2)
    /// The whole exchange with one connection (reading the head, writing the answer) ends by then.
    public static let requestDeadline: Duration = .seconds(2)
    /// Connections served at once; more get `503` at once.
    public static let maximumConcurrentConnections = 16
    /// The content type of the Prometheus text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let listener: Int32
    /// The port listened on (the one asked for, or the one the system chose for port 0).
    public let port: Int
    /// `host:port` as given.
    public let address: String
    private let body: @Sendable () -> [UInt8]
    /// `/healthz`: nil answers 404 (see ``setHealthCheck(_:)``).
    private let healthCheck = Mutex<(@Sendable () -> (healthy: Bool, reason: String))?>(nil)
    private let started = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let active = Atomic<Int>(0)

    /// Binds and listens at once (so a busy port fails at start); ``start()`` begins serving.
    /// - Parameters:
    ///   - host: an address or name to listen on (`127.0.0.1`, `0.0.0.0`, `::`, `localhost`).
    ///   - port: the TCP port; 0 lets the system choose (see ``port``).
    ///   - body: the scrape's text, called on the server's thread for every `GET /metrics`.
    /// - Throws: ``MetricsServerError``.
    public init(host: String, port: Int, body: @escaping @Sendable () -> [UInt8]) throws {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        self.address = address
        self.body = body
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &results)
        guard status == 0, let first = results else {
            throw MetricsServerError(.resolve, address: address, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var lastError = MetricsServerError(.socket, address: address, reason: "no usable address")
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        var bound: Int32 = -1
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = .posix(.socket, address: address, errno: errno)
                continue
            }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                lastError = .posix(.bind, address: address, errno: errno)
                close(fd)
                continue
            }
            guard listen(fd, 64) == 0 else {
                lastError = .posix(.listen, address: address, errno: errno)
                close(fd)
                continue
            }
            bound = fd
            break
        }
        guard bound >= 0 else { throw lastError }
        listener = bound
        self.port = Self.localPort(bound) ?? port
    }

    deinit {
        // Once started, the serving thread closes the socket when it ends.
        if !started.load(ordering: .acquiring) { close(listener) }
    }

    /// Starts serving on a new thread (once; later calls do nothing).
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in serve() }
        thread.name = "oauthq-metrics"
        thread.start()
    }

    /// Stops accepting and closes the socket; the thread ends within about 200 ms. Idempotent.
    public func stop() {
        stopped.store(true, ordering: .releasing)
    }

    /// Whether the serving thread has ended after ``stop()``.
    public var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Serves `GET /healthz` too: 200 `ok` when `check` says healthy, else 503 with its one-line reason (for
    /// Kubernetes probes without `exec`). `check` runs on a connection thread of the server and must not block.
    public func setHealthCheck(_ check: @escaping @Sendable () -> (healthy: Bool, reason: String)) {
        healthCheck.withLock { $0 = check }
    }

    private func serve() {
        defer {
            close(listener)
            finished.store(true, ordering: .releasing)
        }
        while !stopped.load(ordering: .acquiring) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            Self.setTimeouts(client)
            let deadline = ContinuousClock.now + Self.requestDeadline
            // Up to maximumConcurrentConnections are served at once, each on a short-lived thread of its own, so
            // slow clients do not queue a scrape behind them; beyond that, 503 at once.
            guard active.add(1, ordering: .acquiringAndReleasing).newValue <= Self.maximumConcurrentConnections else {
                active.subtract(1, ordering: .acquiringAndReleasing)
                Self.write(client, deadline: ContinuousClock.now + .milliseconds(100), status: "503 Service Unavailable", text: "busy\n")
                close(client)
                continue
            }
            let connection = Thread { [self] in
                respond(on: client, deadline: deadline)
                close(client)
                active.subtract(1, ordering: .acquiringAndReleasing)
            }
            connection.name = "oauthq-metrics-connection"
            connection.start()
        }
    }

    private func respond(on client: Int32, deadline: ContinuousClock.Instant) {
        let head: [UInt8]
        switch Self.readHead(client, deadline: deadline) {
        case .head(let bytes): head = bytes
        case .tooLarge:
            Self.write(client, deadline: deadline, status: "431 Request Header Fields Too Large", text: "request head too large\n")
            return
        case .incomplete(let received):
            if received { Self.write(client, deadline: deadline, status: "400 Bad Request", text: "incomplete request\n") }
            return
        }
        switch HTTPRequestLine(head) {
        case nil:
            Self.write(client, deadline: deadline, status: "400 Bad Request", text: "malformed request\n")
        case let request?:
            if !request.version.hasPrefix("HTTP/1.") {
                Self.write(client, deadline: deadline, status: "505 HTTP Version Not Supported", text: "HTTP/1.x only\n")
            } else if request.method != "GET" && request.method != "HEAD" {
                Self.write(client, deadline: deadline, status: "405 Method Not Allowed", text: "GET or HEAD only\n", extraHeaders: "Allow: GET, HEAD\r\n")
            } else if request.path == "/healthz", let check = healthCheck.withLock({ $0 }) {
                let (healthy, reason) = check()
                Self.write(
                    client, deadline: deadline, status: healthy ? "200 OK" : "503 Service Unavailable", text: reason + "\n",
                    headOnly: request.method == "HEAD"
                )
            } else if request.path != "/metrics" {
                Self.write(client, deadline: deadline, status: "404 Not Found", text: "not found: the metrics are at /metrics\n", headOnly: request.method == "HEAD")
            } else {
                Self.write(client, deadline: deadline, status: "200 OK", body: body(), contentType: Self.contentType, headOnly: request.method == "HEAD")
            }
        }
    }

    private enum ReadResult {
        case head([UInt8])
        case tooLarge
        case incomplete(received: Bool)
    }

    /// Reads until the blank line that ends the head, at most ``maximumRequestBytes``.
    private static func readHead(_ client: Int32, deadline: ContinuousClock.Instant) -> ReadResult {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 2048)
        let terminator: [UInt8] = [13, 10, 13, 10]
        while buffer.count <= maximumRequestBytes {
            guard wait(client, for: Int16(POLLIN), until: deadline) else { return .incomplete(received: false) }
            let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return .incomplete(received: !buffer.isEmpty) }
            let searchFrom = max(0, buffer.count - 3)
            buffer.append(contentsOf: chunk[0..<count])
            if let end = find(terminator, in: buffer, from: searchFrom) {
                return end + 4 <= maximumRequestBytes ? .head(Array(buffer[0..<end])) : .tooLarge
            }
        }
        return .tooLarge
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func write(
        _ client: Int32, deadline: ContinuousClock.Instant, status: String, text: String, extraHeaders: String = "", headOnly: Bool = false
    ) {
        write(client, deadline: deadline, status: status, body: Array(text.utf8), contentType: "text/plain; charset=utf-8", extraHeaders: extraHeaders, headOnly: headOnly)
    }

    private static func write(
        _ client: Int32, deadline: ContinuousClock.Instant, status: String, body: [UInt8], contentType: String, extraHeaders: String = "", headOnly: Bool = false
    ) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\(extraHeaders)Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes += body }
        var offset = 0
        while offset < bytes.count {
            guard wait(client, for: Int16(POLLOUT), until: deadline) else { return }
            let sent = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// Waits until `fd` is ready for `events` or `deadline` passes; false when the deadline passed first.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return false }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            return ready > 0
        }
    }

    private static func setTimeouts(_ fd: Int32) {
        let (seconds, attoseconds) = ioTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func localPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        default:
            return nil
        }
    }
}
