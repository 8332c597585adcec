public import Foundation

/// A record for the dead-letter list: a message that could not be run, with why, when and where.
///
/// On the wire it is one JSON object, `{"reason", "time", "queue", "task_id", "task_name", "worker", "original"}`,
/// where `time` is ISO-8601 (``CeleryTimestamp``) and `original` is the exact original bytes in base64 (they may not
/// be UTF-8). `reason` must not contain task arguments; ``CeleryMessageError/reason`` never does.
public struct DeadLetter: Sendable, Hashable, Codable {
    /// Why the message was dead-lettered.
    public var reason: String
    /// When (microsecond precision on the wire).
    public var time: Date
    /// The queue it was read from.
    public var queue: String
    /// The task id, when readable.
    public var taskID: String?
    /// The task name, when readable.
    public var taskName: String?
    /// The worker that gave up on it.
    public var worker: String
    /// The message bytes exactly as read.
    public var original: [UInt8]

    public init(
        reason: String, time: Date = Date(), queue: String, taskID: String? = nil, taskName: String? = nil,
        worker: String, original: [UInt8]
    ) {
        self.reason = reason
        self.time = time
        self.queue = queue
        self.taskID = taskID
        self.taskName = taskName
        self.worker = worker
        self.original = original
    }

    /// A record for a message that failed ``CeleryMessage/decode(_:)``.
    public init(error: CeleryMessageError, time: Date = Date(), queue: String, worker: String, original: [UInt8]) {
        self.init(
            reason: error.reason, time: time, queue: queue, taskID: error.taskID, taskName: error.taskName,
            worker: worker, original: original
        )
    }

    private enum CodingKeys: String, CodingKey {
        case reason, time, queue
        case taskID = "task_id"
        case taskName = "task_name"
        case worker, original
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        reason = try c.decode(String.self, forKey: .reason)
        let timeText = try c.decode(String.self, forKey: .time)
        guard let time = CeleryTimestamp.parse(timeText) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: c, debugDescription: "not an ISO-8601 timestamp")
        }
        self.time = time
        queue = try c.decode(String.self, forKey: .queue)
        taskID = try c.decodeIfPresent(String.self, forKey: .taskID)
        taskName = try c.decodeIfPresent(String.self, forKey: .taskName)
        worker = try c.decode(String.self, forKey: .worker)
        guard let original = Base64.decode(try c.decode(String.self, forKey: .original)) else {
            throw DecodingError.dataCorruptedError(forKey: .original, in: c, debugDescription: "not base64")
        }
        self.original = original
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(reason, forKey: .reason)
        try c.encode(CeleryTimestamp.format(time), forKey: .time)
        try c.encode(queue, forKey: .queue)
        try c.encode(taskID, forKey: .taskID)
        try c.encode(taskName, forKey: .taskName)
        try c.encode(worker, forKey: .worker)
        try c.encode(Base64.encode(original), forKey: .original)
    }

    /// The record as compact JSON, fields in the documented order. The original is stored
    /// ``redacted(_:)``: a client secret in its kwargs never reaches the dead-letter list in clear.
    public func encoded() -> [UInt8] {
        let original = Self.redacted(self.original)
        let object: JSONObject = [
            "reason": .string(reason),
            "time": .string(CeleryTimestamp.format(time)),
            "queue": .string(queue),
            "task_id": taskID.map(JSONValue.string) ?? .null,
            "task_name": taskName.map(JSONValue.string) ?? .null,
            "worker": .string(worker),
            "original": .string(Base64.encode(original)),
        ]
        return JSONValue.object(object).serialized()
    }

    /// Reads a record written by ``encoded()`` (or by the `Codable` conformance through `JSONEncoder`).
    public static func decode(_ bytes: [UInt8]) -> Result<DeadLetter, WireDecodingError> {
        let object: JSONObject
        switch WireDecodingError.object(from: bytes) {
        case .success(let o): object = o
        case .failure(let error): return .failure(error)
        }
        func string(_ key: String) -> Result<String, WireDecodingError> {
            switch object[key] {
            case .string(let s)?: return .success(s)
            case nil: return .failure(WireDecodingError(code: .missingField(key), reason: "missing field \(key)"))
            default: return .failure(WireDecodingError(code: .wrongType(key), reason: "field \(key) is not a string"))
            }
        }
        func optionalString(_ key: String) -> Result<String?, WireDecodingError> {
            switch object[key] {
            case .string(let s)?: return .success(s)
            case nil, .null?: return .success(nil)
            default: return .failure(WireDecodingError(code: .wrongType(key), reason: "field \(key) is not a string"))
            }
        }
        do throws(WireDecodingError) {
            let timeText = try string("time").get()
            guard let time = CeleryTimestamp.parse(timeText) else {
                throw WireDecodingError(code: .wrongType("time"), reason: "field time is not ISO-8601")
            }
            guard let original = Base64.decode(try string("original").get()) else {
                throw WireDecodingError(code: .wrongType("original"), reason: "field original is not base64")
            }
            return .success(
                DeadLetter(
                    reason: try string("reason").get(), time: time, queue: try string("queue").get(),
                    taskID: try optionalString("task_id").get(), taskName: try optionalString("task_name").get(),
                    worker: try string("worker").get(), original: original
                )
            )
        } catch {
            return .failure(error)
        }
    }
}
