public import Foundation
import CeleryProtocol
import Yams

/// A beat schedule file (YAML):
///
/// ```yaml
/// timezone: UTC                 # optional: an IANA name for cron entries; --timezone overrides it
/// entries:                      # a mapping: entry name → entry
///   cleartokens-nightly:
///     task: cleartokens         # required: headers.task
///     schedule: "0 3 * * *"     # required: a 5-field cron expression or "every 30s|5m|1h|1d"
///     kwargs:                   # optional, any YAML mapping
///       REFRESH_TOKEN_EXPIRE_SECONDS: 86400
///     args: []                  # optional, any YAML sequence
///     queue: celery             # optional, default celery
///     priority: 0               # optional, 0-9, default 0
///     expires: 3600             # optional: seconds after sending, or a duration such as 30m, 1h
/// ```
///
/// Quote cron expressions: a YAML value starting with `*` is an alias. Unknown keys are errors, so typos surface.
public struct BeatScheduleFile: Sendable, Hashable {
    /// The `timezone` key, if given.
    public var timeZone: TimeZone?
    /// The entries, in file order.
    public var entries: [BeatEntry]

    static let entryKeys = ["task", "schedule", "args", "kwargs", "queue", "priority", "expires"]

    /// Parses a schedule file's text.
    /// - Parameter source: used in messages (the file name).
    /// - Throws: ``BeatScheduleError`` naming the entry and key, or YAML's own message with line and column.
    public init(yaml text: String, source: String = "schedule") throws(BeatScheduleError) {
        func fail(_ reason: String) -> BeatScheduleError { BeatScheduleError("\(source): \(reason)") }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw fail("not valid YAML: \(String(describing: error).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard let root, let top = root.mapping else {
            throw fail("expected a mapping with an `entries` key at the top level")
        }
        var timeZone: TimeZone?
        var entriesNode: Node.Mapping?
        for (keyNode, value) in top {
            switch keyNode.string {
            case "timezone":
                guard let name = value.string, let zone = TimeZone(identifier: name) else {
                    throw fail("timezone \"\(value.string ?? "")\" is not a known time zone name (e.g. UTC, Europe/Paris)")
                }
                timeZone = zone
            case "entries":
                guard let mapping = value.mapping else {
                    throw fail("`entries` must be a mapping of entry names to entries")
                }
                entriesNode = mapping
            default:
                throw fail("unknown top-level key \"\(keyNode.string ?? "?")\" (allowed: timezone, entries)")
            }
        }
        guard let entriesNode, !entriesNode.isEmpty else { throw fail("no entries") }
        var entries: [BeatEntry] = []
        for (nameNode, body) in entriesNode {
            guard let name = nameNode.string, !name.isEmpty else { throw fail("an entry name is empty") }
            entries.append(try Self.entry(name: name, body: body, fail: { fail("entry \"\(name)\": \($0)") }))
        }
        self.timeZone = timeZone
        self.entries = entries
    }

    /// Reads and parses a file.
    /// - Throws: ``BeatScheduleError`` when it cannot be read or parsed.
    public init(contentsOf path: String) throws(BeatScheduleError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw BeatScheduleError("cannot read schedule file \(path): \(error.localizedDescription)")
        }
        try self.init(yaml: text, source: path)
    }

    private static func entry(
        name: String, body: Node, fail: (String) -> BeatScheduleError
    ) throws(BeatScheduleError) -> BeatEntry {
        guard let mapping = body.mapping else { throw fail("expected a mapping with task and schedule") }
        var task: String?
        var schedule: BeatSchedule?
        var entry = BeatEntry(name: name, task: "", schedule: .interval(seconds: 1))
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "task":
                guard let text = value.scalarString, !text.isEmpty else { throw fail("task must be a non-empty string") }
                task = text
            case "schedule":
                guard let text = value.scalarString, value.tagName == .str else { throw fail("schedule must be a string such as \"0 3 * * *\" or \"every 30s\"") }
                do {
                    schedule = try BeatSchedule(parsing: text)
                } catch {
                    throw fail(error.description)
                }
            case "args":
                guard case .array(let args) = try json(value, fail: fail) else { throw fail("args must be a sequence") }
                entry.args = args
            case "kwargs":
                guard case .object(let kwargs) = try json(value, fail: fail) else { throw fail("kwargs must be a mapping") }
                entry.kwargs = kwargs
            case "queue":
                guard let text = value.scalarString, !text.isEmpty else { throw fail("queue must be a non-empty string") }
                entry.queue = text
            case "priority":
                guard value.tagName == .int, let p = value.int, (0...9).contains(p) else {
                    throw fail("priority must be an integer from 0 to 9")
                }
                entry.priority = p
            case "expires":
                if value.tagName == .int, let seconds = value.int, seconds > 0 {
                    entry.expiresSeconds = Int64(seconds)
                } else if let text = value.string, let seconds = BeatSchedule.intervalSeconds(text.lowercased()) {
                    entry.expiresSeconds = seconds
                } else {
                    throw fail("expires must be a positive number of seconds or a duration such as 30m")
                }
            default:
                throw fail("unknown key \"\(key)\" (allowed: \(entryKeys.joined(separator: ", ")))")
            }
        }
        guard let task else { throw fail("task is missing") }
        guard let schedule else { throw fail("schedule is missing") }
        entry.task = task
        entry.schedule = schedule
        try entry.validate()
        return entry
    }

    /// A YAML node as JSON: null, booleans, integers and floats by YAML's core schema, other scalars as strings.
    static func json(_ node: Node, fail: (String) -> BeatScheduleError) throws(BeatScheduleError) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            switch node.tagName {
            case .null: return .null
            case .bool: if let b = node.bool { return .bool(b) }
            case .int: if let i = node.int { return .int(Int64(i)) }
            case .float: if let d = node.float, d.isFinite { return .double(d) }
            default: break
            }
            return .string(scalar.string)
        case .sequence(let sequence):
            var values: [JSONValue] = []
            for element in sequence { values.append(try json(element, fail: fail)) }
            return .array(values)
        case .mapping(let mapping):
            var object = JSONObject()
            for (key, value) in mapping {
                guard let name = key.scalar?.string else { throw fail("mapping keys must be strings") }
                object[name] = try json(value, fail: fail)
            }
            return .object(object)
        }
    }
}

extension Node {
    /// The text of a scalar node (whatever its resolved type), nil for collections.
    fileprivate var scalarString: String? { scalar?.string }
}

extension Node {
    /// The resolved tag's name (`Tag.name` is not public in Yams 5).
    fileprivate var tagName: Tag.Name { Tag.Name(rawValue: tag.description) }
}
