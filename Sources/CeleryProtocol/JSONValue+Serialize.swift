import PythonCompat

extension JSONValue {
    /// The value as Python's `json.dumps(value)` writes it: separators `", "` and `": "`, `ensure_ascii=True`
    /// (every character outside printable ASCII escaped as lowercase `\uXXXX`, astral characters as surrogate pairs),
    /// floats as Python's `repr`. This is the format kombu uses for message bodies and envelopes.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(to: &out)
        return out
    }

    /// ``serialized()`` as a `String` (always ASCII).
    public var jsonString: String {
        String(decoding: serialized(), as: UTF8.self)
    }

    func write(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i):
            out.append(contentsOf: String(i).utf8)
        case .double(let d):
            out.append(contentsOf: PythonFloat.json(d).utf8)
        case .string(let s):
            JSONValue.writeString(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            var first = true
            for element in elements {
                if !first { out.append(contentsOf: ", ".utf8) }
                first = false
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            var first = true
            for member in object.members {
                if !first { out.append(contentsOf: ", ".utf8) }
                first = false
                JSONValue.writeString(member.key, to: &out)
                out.append(contentsOf: ": ".utf8)
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in s.unicodeScalars {
            let v = scalar.value
            switch v {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])  // \"
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])  // \\
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x20...0x7E: out.append(UInt8(v))
            case 0x10000...:
                let u = v - 0x10000
                writeUEscape(0xD800 + (u >> 10), to: &out)
                writeUEscape(0xDC00 + (u & 0x3FF), to: &out)
            default:
                writeUEscape(v, to: &out)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func writeUEscape(_ v: UInt32, to out: inout [UInt8]) {
        out.append(0x5C)
        out.append(UInt8(ascii: "u"))
        out.append(hexDigits[Int((v >> 12) & 0xF)])
        out.append(hexDigits[Int((v >> 8) & 0xF)])
        out.append(hexDigits[Int((v >> 4) & 0xF)])
        out.append(hexDigits[Int(v & 0xF)])
    }
}
