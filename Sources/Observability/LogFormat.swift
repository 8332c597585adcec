/// How a command writes its log: human lines (swift-log's stream handler) or JSON lines (``JSONLogHandler``).
public enum LogFormat: String, Sendable, CaseIterable {
    case text, json
}
