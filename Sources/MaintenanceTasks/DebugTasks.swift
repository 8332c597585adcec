import CeleryProtocol
public import CeleryRedis
public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Tasks for testing a deployment, registered only with `oauthq worker --debug-tasks` (off by default).
///
/// `oauthq.crash()`: logs that it started and aborts the whole worker process (`abort()`, SIGABRT), as a
/// poison pill would; the chaos suite proves that such a message is dead-lettered (`WorkerLost`) after
/// `--max-worker-lost` deliveries while everything else still runs.
///
/// `oauthq.sleep(seconds=S)`: logs that it started (so a chaos run can count tasks that ran twice), sleeps
/// S seconds (0 to ``maximumSeconds``; cancellable, so time limits and shutdown apply) and returns
/// `{"slept": S}`. A task with a duration is what kills and shutdowns must hit in flight; `ping` finishes in
/// microseconds.
public enum DebugTasks {
    public static let sleepTaskName = "oauthq.sleep"
    public static let crashTaskName = "oauthq.crash"
    /// The longest sleep a message may ask for.
    public static let maximumSeconds = 600.0

    /// The handlers by task name.
    public static func handlers(logger: Logger) -> [String: JobHandler] {
        [
            sleepTaskName: { invocation in try await sleep(invocation, logger: logger) },
            crashTaskName: { invocation in try crash(invocation, logger: logger) },
        ]
    }

    static func sleep(_ invocation: JobInvocation, logger: Logger) async throws -> JSONValue {
        let arguments = try WorkerArguments(
            function: sleepTaskName, args: invocation.message.args, kwargs: invocation.message.kwargs,
            positional: ["seconds"], required: ["seconds"], allowed: ["seconds"]
        )
        let seconds: Double
        switch arguments.values["seconds"] {
        case .int(let number)?: seconds = Double(number)
        case .double(let number)?: seconds = number
        case let value?:
            throw JobError.invalidArguments("\(sleepTaskName)() argument 'seconds' must be int or float, not \(value.pythonTypeName)")
        case nil:
            throw JobError.invalidArguments("\(sleepTaskName)() missing 1 required positional argument: 'seconds'")
        }
        guard seconds >= 0, seconds <= maximumSeconds else {
            throw JobError.invalidArguments("\(sleepTaskName)() argument 'seconds' must be between 0 and \(Int(maximumSeconds))")
        }
        logger.info("task \(sleepTaskName)[\(PrintableText.escaped(invocation.message.id))] started")
        try await Task.sleep(for: MessageLimits.duration(seconds: seconds))
        return ["slept": arguments.values["seconds"] ?? .null]
    }

    static func crash(_ invocation: JobInvocation, logger: Logger) throws -> JSONValue {
        _ = try WorkerArguments(
            function: crashTaskName, args: invocation.message.args, kwargs: invocation.message.kwargs, allowed: []
        )
        logger.critical("task \(crashTaskName)[\(PrintableText.escaped(invocation.message.id))] started: aborting the worker process on purpose")
        abort()
    }
}
