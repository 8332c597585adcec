import Logging

/// The worker's log output: swift-log's stream handler on stderr, one line per event.
enum WorkerLogging {
    /// Installs the handler once per process.
    static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
