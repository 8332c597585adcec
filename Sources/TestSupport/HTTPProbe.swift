#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A blocking HTTP/1.x exchange over a raw loopback socket (2 s timeouts), for tests of the metrics endpoint:
/// sends `request` bytes as they are, closes its sending side, reads until the server closes.
public enum HTTPProbe {
    /// A parsed response.
    public struct Response: Sendable {
        /// The status code (`200`), 0 when no status line came.
        public let status: Int
        /// The header lines, lowercased names: `content-type: …`.
        public let headers: [String: String]
        public let body: [UInt8]

        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// `GET path` (or another method) with `Host` and `Connection: close`.
    public static func request(port: Int, method: String = "GET", path: String = "/metrics") throws -> Response {
        try exchange(port: port, Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func isListening(port: Int) -> Bool {
        TCPProbe.isListening(host: "127.0.0.1", port: port)
    }

    /// Sends raw bytes, reads the whole answer.
    public static func exchange(port: Int, _ request: [UInt8]) throws -> Response {
        guard let fd = TCPProbe.connected(host: "127.0.0.1", port: port) else { throw POSIXError(.ECONNREFUSED) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var offset = 0
        while offset < request.count {
            let sent = request[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { break }  // the server may answer (431) and close before reading it all
            offset += sent
        }
        _ = shutdown(fd, Int32(SHUT_WR))  // all sent: the server sees the end of the request at once
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while response.count < 16 << 20 {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            response.append(contentsOf: chunk[0..<count])
        }
        return parse(response)
    }

    static func parse(_ bytes: [UInt8]) -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        var end = bytes.count
        if bytes.count >= 4 {
            for index in 0...(bytes.count - 4) where bytes[index..<(index + 4)].elementsEqual(separator) {
                end = index
                break
            }
        }
        let head = String(decoding: bytes[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        let status = statusParts.count >= 2 ? Int(statusParts[1]) ?? 0 : 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = end + 4 <= bytes.count ? Array(bytes[(end + 4)...]) : []
        return Response(status: status, headers: headers, body: body)
    }
}
