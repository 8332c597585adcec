public import Foundation

/// A task result as Celery's Redis result backend stores it at `celery-task-meta-<id>` and publishes it on the
/// channel of the same name (docs/architecture.md#the-result-backend).
///
/// ``encoded()`` writes Celery's exact field order:
/// `{"status", "result", "traceback", "children", "date_done"[, "group_id"][, "parent_id"], "task_id"}`.
public struct CeleryResult: Sendable, Hashable {
    /// A task state. Celery's own states are constants; any other string (custom states) is kept as is.
    public struct State: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let pending = State(rawValue: "PENDING")
        public static let received = State(rawValue: "RECEIVED")
        public static let started = State(rawValue: "STARTED")
        public static let retry = State(rawValue: "RETRY")
        public static let success = State(rawValue: "SUCCESS")
        public static let failure = State(rawValue: "FAILURE")
        public static let revoked = State(rawValue: "REVOKED")

        /// Celery's `READY_STATES`: `get()` returns or raises for these and `date_done` is set.
        public var isReady: Bool { self == .success || self == .failure || self == .revoked }

        public var description: String { rawValue }
    }

    /// An exception as Celery serializes it: `{"exc_type", "exc_message": [...], "exc_module"}`.
    public struct ExceptionInfo: Sendable, Hashable {
        /// The class `__qualname__`, e.g. `ValueError`.
        public var type: String
        /// The class `__module__`, e.g. `builtins`. `nil` is written as `null` (Python then synthesizes the class in
        /// `celery.backends.base`).
        public var module: String?
        /// `exc.args`.
        public var messages: [JSONValue]

        public init(type: String, module: String?, messages: [JSONValue]) {
            self.type = type
            self.module = module
            self.messages = messages
        }

        /// The JSON Celery stores as `result`.
        public var json: JSONValue {
            ["exc_type": .string(type), "exc_message": .array(messages), "exc_module": module.map(JSONValue.string) ?? .null]
        }

        /// Reads an exception from a stored `result`. A non-list `exc_message` becomes one argument, as in Python.
        public init?(_ value: JSONValue) {
            guard case .object(let object) = value, case .string(let type)? = object["exc_type"] else { return nil }
            self.type = type
            self.module = object["exc_module"]?.stringValue
            switch object["exc_message"] {
            case .array(let messages)?: self.messages = messages
            case nil, .null?: self.messages = []
            case let other?: self.messages = [other]
            }
        }
    }

    /// The task id (`task_id`; Python's result consumer needs it).
    public var taskID: String
    /// `status`.
    public var state: State
    /// `result`: the return value, or an exception (see ``ExceptionInfo``) for `FAILURE`/`RETRY`/`REVOKED`.
    public var result: JSONValue
    /// `traceback`.
    public var traceback: String?
    /// `children`, `[]` for a task without subtasks.
    public var children: [JSONValue]
    /// `date_done`. Only written for ready states; ``encoded()`` uses `now` when it is `nil`.
    public var dateDone: Date?
    /// `group_id`, written only when set.
    public var groupID: String?
    /// `parent_id`, written only when set.
    public var parentID: String?

    public init(
        taskID: String, state: State, result: JSONValue = .null, traceback: String? = nil,
        children: [JSONValue] = [], dateDone: Date? = nil, groupID: String? = nil, parentID: String? = nil
    ) {
        self.taskID = taskID
        self.state = state
        self.result = result
        self.traceback = traceback
        self.children = children
        self.dateDone = dateDone
        self.groupID = groupID
        self.parentID = parentID
    }

    /// The backend key, `celery-task-meta-<id>` (also the pub/sub channel).
    public static func key(taskID: String) -> String {
        "celery-task-meta-" + taskID
    }

    /// The exception, when ``result`` holds one.
    public var exception: ExceptionInfo? { ExceptionInfo(result) }

    // MARK: - Convenience

    /// `{"exc_type": type, "exc_message": messages, "exc_module": module}`; `builtins` + a builtin name makes Python
    /// raise that exception, an unknown module yields a synthesized class of that name.
    public static func failure(type: String, module: String? = "builtins", messages: [JSONValue]) -> JSONValue {
        ExceptionInfo(type: type, module: module, messages: messages).json
    }

    /// What Celery stores for a message received after its `expires`: `TaskRevokedError('expired')`.
    public static let revokedExpired: JSONValue = failure(
        type: "TaskRevokedError", module: "celery.exceptions", messages: ["expired"]
    )

    /// `STARTED` with Celery's `{"pid": …, "hostname": …}` payload.
    public static func started(taskID: String, pid: Int, hostname: String) -> CeleryResult {
        CeleryResult(taskID: taskID, state: .started, result: ["pid": .int(Int64(pid)), "hostname": .string(hostname)])
    }

    /// `SUCCESS` with a return value.
    public static func success(taskID: String, result: JSONValue, dateDone: Date = Date()) -> CeleryResult {
        CeleryResult(taskID: taskID, state: .success, result: result, dateDone: dateDone)
    }

    /// `FAILURE` with an exception payload (see ``failure(type:module:messages:)``).
    public static func failure(
        taskID: String, exception: JSONValue, traceback: String? = nil, dateDone: Date = Date()
    ) -> CeleryResult {
        CeleryResult(taskID: taskID, state: .failure, result: exception, traceback: traceback, dateDone: dateDone)
    }

    /// `REVOKED` as expired (``revokedExpired``).
    public static func revokedExpired(taskID: String, dateDone: Date = Date()) -> CeleryResult {
        CeleryResult(taskID: taskID, state: .revoked, result: revokedExpired, dateDone: dateDone)
    }

    // MARK: - Wire

    /// The JSON Celery writes, in Celery's field order. `date_done` is `null` for states that are not ready and
    /// ``dateDone`` (or `now`) formatted as `2026-11-30T01:56:21.713571+00:00` for ready ones.
    public func encoded(now: Date = Date()) -> [UInt8] {
        var object: JSONObject = [
            "status": .string(state.rawValue),
            "result": result,
            "traceback": traceback.map(JSONValue.string) ?? .null,
            "children": .array(children),
            "date_done": state.isReady ? .string(CeleryTimestamp.format(dateDone ?? now)) : .null,
        ]
        if let groupID { object["group_id"] = .string(groupID) }
        if let parentID { object["parent_id"] = .string(parentID) }
        object["task_id"] = .string(taskID)
        return JSONValue.object(object).serialized()
    }

    /// Reads a stored result. Needs `status` (a string); `task_id` is read when present (else `""`: Celery's client
    /// would fail on such a record, but a reader should still show it); other fields default as Celery's would.
    public static func decode(_ bytes: [UInt8]) -> Result<CeleryResult, WireDecodingError> {
        let object: JSONObject
        switch WireDecodingError.object(from: bytes) {
        case .success(let o): object = o
        case .failure(let error): return .failure(error)
        }
        guard let statusValue = object["status"] else {
            return .failure(WireDecodingError(code: .missingField("status"), reason: "missing field status"))
        }
        guard case .string(let status) = statusValue else {
            return .failure(WireDecodingError(code: .wrongType("status"), reason: "field status is not a string"))
        }
        var dateDone: Date?
        if case .string(let text)? = object["date_done"] {
            guard let date = CeleryTimestamp.parse(text) else {
                return .failure(WireDecodingError(code: .wrongType("date_done"), reason: "field date_done is not ISO-8601"))
            }
            dateDone = date
        }
        return .success(
            CeleryResult(
                taskID: object["task_id"]?.stringValue ?? "",
                state: State(rawValue: status),
                result: object["result"] ?? .null,
                traceback: object["traceback"]?.stringValue,
                children: object["children"]?.arrayValue ?? [],
                dateDone: dateDone,
                groupID: object["group_id"]?.stringValue,
                parentID: object["parent_id"]?.stringValue
            )
        )
    }
}
