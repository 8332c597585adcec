public import Foundation

/// What a worker does with one message before running anything, decided without I/O: run it, revoke it
/// (expired, or its id revoked), park it until its ETA, or dead-letter it with a reason. Every number of the message is checked
/// against ``MessageLimits`` here, so nothing downstream converts an unchecked value.
///
/// Order: size cap (the body is not decoded), decode, poison pill (`oauthq_worker_lost` reached
/// ``maximumWorkerLosses``), registry, bounds (retries, time limits), expiry, ETA, revoked id.
public struct TaskTriage: Sendable {
    /// The tasks a worker runs: registered names and aliases (`alias → registered name`).
    public struct Registry: Sendable {
        public var tasks: Set<String>
        public var aliases: [String: String]

        public init(tasks: Set<String>, aliases: [String: String] = [:]) {
            self.tasks = tasks
            self.aliases = aliases
        }

        /// The registered name `name` resolves to, or nil.
        public func resolve(_ name: String) -> String? {
            let resolved = aliases[name] ?? name
            return tasks.contains(resolved) ? resolved : nil
        }
    }

    /// The time limit that applies to a run: the earlier of soft and hard.
    public struct TimeLimitPlan: Sendable, Hashable {
        public enum Kind: Sendable, Hashable { case soft, hard }
        public var kind: Kind
        /// As the message (or the worker's default) gave it, for the exception and the log.
        public var seconds: Double
        /// The same, as a checked `Duration`.
        public var duration: Duration

        public init(kind: Kind, seconds: Double, duration: Duration) {
            self.kind = kind
            self.seconds = seconds
            self.duration = duration
        }
    }

    /// A message to run.
    public struct Run: Sendable {
        public var message: CeleryMessage
        /// The registered name (aliases applied).
        public var name: String
        public var timeLimit: TimeLimitPlan?
        /// Whether a stored `SUCCESS` must be looked up first (the message is a redelivery).
        public var checkStoredSuccess: Bool
        /// Whether it must run alone in the slot's processing list: workers died holding it before (one death short
        /// of the limit; from the first with a limit of 1 or 2), so if it kills this one too, the reaper must be
        /// able to tell it from the rest of the batch. Not from the first death at the default limit of 3: a
        /// kill storm strands many innocent messages once, and running each alone would hold up recovery.
        public var isolate: Bool
    }

    /// A message to dead-letter.
    public struct Rejection: Sendable {
        public var record: DeadLetter
        /// The `FAILURE` to store, when the id is readable (and results are not ignored).
        public var result: CeleryResult?
        public var metric: DeadLetterReason
        /// The task name and id for the log line (`?` when unreadable).
        public var name: String
        public var id: String
    }

    public enum Decision: Sendable {
        case run(Run)
        /// Expired (`headers.expires` passed): store `REVOKED` (when results are kept) and drop it.
        case expired(CeleryMessage, name: String)
        /// Its ETA is ahead: park it until then.
        case delay(CeleryMessage, name: String, until: Date)
        /// Its id is revoked (`revoke`, `celery control revoke`): store `REVOKED` and drop it. Checked when it is
        /// due, so a message revoked while parked for its ETA is dropped when the ETA comes.
        case revoked(CeleryMessage, name: String)
        case deadLetter(Rejection)
    }

    public var registry: Registry
    public var limits: MessageLimits
    /// Used when a message sets no time limit.
    public var defaultTimeLimit: CeleryMessage.TimeLimit
    /// After how many worker deaths while holding it a message is dead-lettered (`WorkerLost`); 0: never.
    public var maximumWorkerLosses: Int
    /// The node name written into dead letters.
    public var workerName: String

    public init(
        registry: Registry, limits: MessageLimits = MessageLimits(), defaultTimeLimit: CeleryMessage.TimeLimit = .none,
        maximumWorkerLosses: Int = 3, workerName: String
    ) {
        self.registry = registry
        self.limits = limits
        self.defaultTimeLimit = defaultTimeLimit
        self.maximumWorkerLosses = max(0, maximumWorkerLosses)
        self.workerName = workerName
    }

    /// The decision for the message `raw`, fetched from `queue` at `now`.
    /// - Parameter isRevoked: whether a task id is revoked now (the worker's in-memory copy of the revoked set).
    public func triage(_ raw: [UInt8], queue: String, now: Date, isRevoked: (String) -> Bool = { _ in false }) -> Decision {
        guard raw.count <= limits.maximumMessageBytes else {
            let reason = "message of \(raw.count) bytes exceeds the \(limits.maximumMessageBytes)-byte limit; not decoded"
            let record = DeadLetter(reason: reason, time: now, queue: queue, worker: workerName, original: raw)
            return .deadLetter(Rejection(record: record, result: nil, metric: .tooLarge, name: "?", id: "?"))
        }
        let message: CeleryMessage
        switch CeleryMessage.decode(raw) {
        case .failure(let error):
            let record = DeadLetter(error: error, time: now, queue: queue, worker: workerName, original: raw)
            let result = error.taskID.map {
                CeleryResult.failure(
                    taskID: $0,
                    exception: CeleryResult.failure(type: "ValueError", messages: [.string("malformed message: \(error.reason)")])
                )
            }
            return .deadLetter(Rejection(record: record, result: result, metric: .malformed, name: error.taskName ?? "?", id: error.taskID ?? "?"))
        case .success(let decoded):
            message = decoded
        }

        func reject(_ reason: String, _ metric: DeadLetterReason, exception: JSONValue) -> Decision {
            let record = DeadLetter(
                reason: reason, time: now, queue: queue, taskID: message.id, taskName: message.taskName, worker: workerName,
                original: raw
            )
            let result = message.ignoreResult ? nil : CeleryResult.failure(taskID: message.id, exception: exception)
            return .deadLetter(Rejection(record: record, result: result, metric: metric, name: message.taskName, id: message.id))
        }

        let losses = message.workerLostCount
        if maximumWorkerLosses > 0, losses >= maximumWorkerLosses {
            let reason = "WorkerLost: \(losses) worker(s) died while running this message (limit \(maximumWorkerLosses)); not run again"
            return reject(
                reason, .workerLost,
                exception: CeleryResult.failure(
                    type: "WorkerLostError", module: "billiard.exceptions",
                    messages: [.string("Worker exited prematurely \(losses) times running this task; dead-lettered as a poison pill.")]
                )
            )
        }

        guard let name = registry.resolve(message.taskName) else {
            let reason = "unregistered task \(Self.quoted(message.taskName))"
            return reject(
                reason, .unregistered,
                exception: CeleryResult.failure(type: "NotRegistered", module: "celery.exceptions", messages: [.string(message.taskName)])
            )
        }

        let timeLimit: TimeLimitPlan?
        switch checkedBounds(message) {
        case .failure(let violation):
            let reason = "out of range: \(violation)"
            return reject(reason, .outOfRange, exception: CeleryResult.failure(type: "ValueError", messages: [.string(reason)]))
        case .success(let plan):
            timeLimit = plan
        }

        if message.isExpired(now: now) {
            return .expired(message, name: name)
        }
        if let eta = message.eta, eta.timeIntervalSince(now) > 0.001 {
            return .delay(message, name: name, until: eta)
        }
        if isRevoked(message.id) {
            return .revoked(message, name: name)
        }
        return .run(Run(message: message, name: name, timeLimit: timeLimit, checkStoredSuccess: message.isRedelivered, isolate: losses >= max(1, maximumWorkerLosses - 1)))
    }

    /// Checks `retries` and the time limits (the message's, else the worker's defaults) and returns the limit
    /// that applies: the earlier of soft and hard.
    func checkedBounds(_ message: CeleryMessage) -> Result<TimeLimitPlan?, BoundsViolation> {
        if case .failure(let violation) = limits.retries(message.retries) { return .failure(violation) }
        let hardSeconds = message.timeLimit.hard ?? defaultTimeLimit.hard
        let softSeconds = message.timeLimit.soft ?? defaultTimeLimit.soft
        let hard: Duration?
        let soft: Duration?
        switch limits.timeLimit(hardSeconds, field: "headers.timelimit[0] (hard)") {
        case .failure(let violation): return .failure(violation)
        case .success(let value): hard = value
        }
        switch limits.timeLimit(softSeconds, field: "headers.timelimit[1] (soft)") {
        case .failure(let violation): return .failure(violation)
        case .success(let value): soft = value
        }
        var plan: TimeLimitPlan?
        if let hard, let hardSeconds { plan = TimeLimitPlan(kind: .hard, seconds: hardSeconds, duration: hard) }
        if let soft, let softSeconds, soft < (plan?.duration ?? .seconds(Int64.max)) {
            plan = TimeLimitPlan(kind: .soft, seconds: softSeconds, duration: soft)
        }
        return .success(plan)
    }

    /// A name from a message for a reason: ``PrintableText/escaped(_:limit:)``, quoted.
    public static func quoted(_ text: String) -> String {
        "'" + PrintableText.escaped(text) + "'"
    }
}

/// Why a message was dead-lettered (the `reason` label of `oauthq_dead_letters_total`).
public enum DeadLetterReason: String, Sendable, Hashable {
    case malformed, unregistered, invalidArguments = "invalid_arguments"
    /// Over the message size cap (not decoded).
    case tooLarge = "too_large"
    /// A number out of its bounds (retries, time limits).
    case outOfRange = "out_of_range"
    /// A poison pill: workers died running it too many times.
    case workerLost = "worker_lost"
}
