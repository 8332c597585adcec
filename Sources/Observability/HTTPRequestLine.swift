/// The request line of an HTTP/1.x request head: `METHOD SP target SP version`, with the query string cut
/// from the path. Nil for anything else (not three parts, bytes outside printable ASCII, a version not `HTTP/…`).
struct HTTPRequestLine: Sendable, Hashable {
    var method: String
    var path: String
    var version: String

    init?(_ head: [UInt8]) {
        let lineEnd = head.firstIndex(of: 13) ?? head.count
        let line = head[0..<lineEnd]
        guard !line.isEmpty, line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        method = String(decoding: parts[0], as: UTF8.self)
        let target = String(decoding: parts[1], as: UTF8.self)
        version = String(decoding: parts[2], as: UTF8.self)
        guard method.allSatisfy({ $0.isLetter && $0.isUppercase }), target.hasPrefix("/") || target == "*",
              version.hasPrefix("HTTP/") else { return nil }
        path = String(target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }
}
