import CeleryProtocol
import CeleryRedis

/// Python-style binding of a task's `args` and `kwargs` to named parameters, with Python's `TypeError`
/// messages (`f() got an unexpected keyword argument 'x'`, …). Values are never quoted in messages.
struct WorkerArguments {
    let function: String
    private(set) var values: [String: JSONValue] = [:]

    /// Binds `args` to `positional` in order and `kwargs` by name (`allowed` lists every accepted name,
    /// positional ones included). `required` positional parameters must be given one way or the other.
    init(
        function: String,
        args: [JSONValue],
        kwargs: JSONObject,
        positional: [String] = [],
        required: [String] = [],
        allowed: Set<String>,
        normalizing normalize: (String) -> String = { $0 }
    ) throws(JobError) {
        self.function = function
        if args.count > positional.count {
            let takes = positional.count == 1 ? "1 positional argument" : "\(positional.count) positional arguments"
            let given = args.count == 1 ? "1 was given" : "\(args.count) were given"
            throw .invalidArguments("\(function)() takes \(takes) but \(given)")
        }
        for (name, value) in zip(positional, args) {
            values[name] = value
        }
        for (key, value) in kwargs {
            let name = normalize(key)
            guard allowed.contains(name) else {
                throw .invalidArguments("\(function)() got an unexpected keyword argument \(Self.repr(key))")
            }
            if values[name] != nil {
                throw .invalidArguments("\(function)() got multiple values for argument \(Self.repr(key))")
            }
            values[name] = value
        }
        let missing = required.filter { values[$0] == nil }
        if !missing.isEmpty {
            let names = missing.map(Self.repr)
            let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
            let noun = missing.count == 1 ? "argument" : "arguments"
            throw .invalidArguments("\(function)() missing \(missing.count) required positional \(noun): \(list)")
        }
    }

    /// A string parameter; `null` or absent gives `fallback`. Integers are accepted and written in decimal
    /// when `acceptIntegers` (a user id).
    /// Longer strings are refused before any validation runs (``maximumStringBytes`` unless given).
    func string(
        _ name: String, default fallback: String = "", acceptIntegers: Bool = false, maximumBytes: Int = Self.maximumStringBytes
    ) throws(JobError) -> String {
        switch values[name] {
        case nil, .null?: return fallback
        case .string(let text)?:
            guard text.utf8.count <= maximumBytes else {
                throw .invalidArguments("\(function)() argument \(Self.repr(name)) is longer than \(maximumBytes) bytes")
            }
            return text
        case .int(let number)? where acceptIntegers: return String(number)
        case let value?: throw .invalidArguments("\(function)() argument \(Self.repr(name)) must be str, not \(value.pythonTypeName)")
        }
    }

    /// A boolean parameter; `null` or absent gives `fallback`.
    func bool(_ name: String, default fallback: Bool) throws(JobError) -> Bool {
        switch values[name] {
        case nil, .null?: return fallback
        case .bool(let flag)?: return flag
        case let value?: throw .invalidArguments("\(function)() argument \(Self.repr(name)) must be bool, not \(value.pythonTypeName)")
        }
    }

    /// The longest string argument accepted by default (DOT's longest bounded column is 255 characters).
    static let maximumStringBytes = 4096
    /// The longest list of redirect URIs accepted (a text column in DOT).
    static let maximumURIListBytes = 1 << 20

    /// Python's `repr` of a name: `'name'`, at most 100 characters of it (a name comes from the message).
    static func repr(_ name: String) -> String {
        let shown = name.unicodeScalars.count > 100 ? String(String.UnicodeScalarView(name.unicodeScalars.prefix(100))) + "…" : name
        return JSONValue.string(shown).pythonRepr
    }
}

extension JSONValue {
    /// The Python type name of the value as `json.loads` would give it.
    var pythonTypeName: String {
        switch self {
        case .null: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }
}
