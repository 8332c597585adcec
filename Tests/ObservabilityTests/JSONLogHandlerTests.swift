import Foundation
import Logging
import Synchronization
import Testing

@testable import Observability

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    /// Parses one line with Foundation's JSONSerialization (an independent reader).
    static func parse(_ line: [UInt8]) throws -> [String: Any] {
        #expect(line.last == 0x0A, "one line, newline-terminated")
        #expect(line.dropLast().contains(0x0A) == false, "no raw newline inside a line")
        let object = try JSONSerialization.jsonObject(with: Data(line.dropLast()))
        return try #require(object as? [String: Any])
    }

    @Test("fixed fields: RFC 3339 UTC timestamp with milliseconds, level, logger, message")
    func fields() throws {
        let line = JSONLogHandler.line(
            timestamp: "2026-11-30T07:26:06.123Z", level: .warning, label: "oauthq.worker", message: "hello", metadata: [:]
        )
        #expect(String(decoding: line, as: UTF8.self)
            == #"{"timestamp":"2026-11-30T07:26:06.123Z","level":"warning","logger":"oauthq.worker","message":"hello"}"# + "\n")
        #expect(JSONLogHandler.timestamp(seconds: 0, milliseconds: 7) == "1970-01-01T00:00:00.007Z")
        #expect(JSONLogHandler.timestamp(seconds: 1_796_023_614, milliseconds: 94) == "2026-11-30T07:26:54.094Z")
        let now = JSONLogHandler.now()
        #expect(now.count == 24 && now.hasSuffix("Z"))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try #require(formatter.date(from: now))
        #expect(abs(parsed.timeIntervalSinceNow) < 60)
    }

    @Test("escaping: quotes, backslashes, every control character, DEL, U+2028/2029, non-ASCII kept as UTF-8")
    func escaping() throws {
        var nasty = "quote \" backslash \\ slash / newline \n cr \r tab \t é 漢 😀 \u{2028}\u{2029}\u{7F}"
        for value in 0..<0x20 { nasty.unicodeScalars.append(Unicode.Scalar(UInt8(value))) }
        let line = JSONLogHandler.line(
            timestamp: "t", level: .info, label: "l\"abel", message: nasty, metadata: ["key\n": .string(nasty)]
        )
        let object = try Self.parse(line)
        #expect(object["message"] as? String == nasty)
        #expect(object["logger"] as? String == "l\"abel")
        #expect(object["key\n"] as? String == nasty)
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#"\u0000"#) && text.contains(#"\u001f"#) && text.contains(#"\u007f"#) && text.contains(#"\u2028"#))
        #expect(text.contains("é 漢 😀"))
    }

    @Test("metadata: nested values as JSON, fixed-field collisions renamed, sorted keys")
    func metadata() throws {
        let line = JSONLogHandler.line(
            timestamp: "t", level: .error, label: "x", message: "m",
            metadata: [
                "task": "ping", "count": .stringConvertible(42), "list": ["a", "b"], "map": ["k": "v", "n": ["1"]],
                "message": "shadow", "level": "shadow",
            ]
        )
        let object = try Self.parse(line)
        #expect(object["message"] as? String == "m")
        #expect(object["level"] as? String == "error")
        #expect(object["metadata.message"] as? String == "shadow")
        #expect(object["metadata.level"] as? String == "shadow")
        #expect(object["task"] as? String == "ping")
        #expect(object["count"] as? String == "42")
        #expect(object["list"] as? [String] == ["a", "b"])
        let map = try #require(object["map"] as? [String: Any])
        #expect(map["k"] as? String == "v")
        #expect(map["n"] as? [String] == ["1"])
        let text = String(decoding: line, as: UTF8.self)
        // Sorted by the original key: count, level, list, map, message, task.
        let keys = ["count", "metadata.level", "list", "map", "metadata.message", "task"].map { text.range(of: "\"\($0)\":")!.lowerBound }
        #expect(keys == keys.sorted())
    }

    @Test("through a Logger: level filter, handler and call metadata merged (call wins)")
    func logger() throws {
        let lines = Mutex<[[UInt8]]>([])
        var handler = JSONLogHandler(label: "test") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = .info
        handler.metadata = ["worker": "w1", "slot": "1"]
        let logger = Logger(label: "test") { _ in handler }
        logger.debug("hidden")
        logger.info("shown", metadata: ["slot": "2"])
        let captured = lines.withLock { $0 }
        try #require(captured.count == 1)
        let object = try Self.parse(captured[0])
        #expect(object["message"] as? String == "shown")
        #expect(object["worker"] as? String == "w1")
        #expect(object["slot"] as? String == "2")
        #expect(object["logger"] as? String == "test")
    }
}
