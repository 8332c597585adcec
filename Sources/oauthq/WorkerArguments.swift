import JobQueue
import JobQueueRedis

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
    func string(_ name: String, default fallback: String = "", acceptIntegers: Bool = false) throws(JobError) -> String {
        switch values[name] {
        case nil, .null?: return fallback
        case .string(let text)?: return text
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

    /// Python's `repr` of a name: `'name'`.
    static func repr(_ name: String) -> String {
        JSONValue.string(name).pythonRepr
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
