import ArgumentParser
import Logging
import Observability

/// `--log-format text|json` (default `$OAUTHQ_LOG_FORMAT`, else text) for commands that log through swift-log.
struct LogOptions: ParsableArguments {
    @Option(name: .customLong("log-format"), help: "text (human lines) or json (one JSON object per line) (default: $OAUTHQ_LOG_FORMAT, else text).")
    var logFormatFlag: String?

    /// The format from the flag, else the environment, else text.
    func format() throws -> LogFormat {
        let value = logFormatFlag ?? Environment.value("OAUTHQ_LOG_FORMAT") ?? LogFormat.text.rawValue
        guard let format = LogFormat(rawValue: value.lowercased()) else {
            let source = logFormatFlag == nil ? "OAUTHQ_LOG_FORMAT" : "--log-format"
            throw ValidationError("\(source) \"\(value)\": expected text or json")
        }
        return format
    }

    func validate() throws {
        _ = try format()
    }

    /// Installs the process's log handler (once): swift-log's stream handler or ``JSONLogHandler``, on stderr.
    func bootstrap(level: Logger.Level) throws {
        let format = try format()
        LoggingSystem.bootstrap { label in
            switch format {
            case .text:
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            case .json:
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
