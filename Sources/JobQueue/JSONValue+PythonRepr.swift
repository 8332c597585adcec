extension JSONValue {
    /// Python's `repr()` of the value `json.loads` would produce: `None`, `True`/`False`, ints, floats as
    /// `float.__repr__` (`1.0`, `1e+100`), strings quoted and escaped as `str.__repr__` does (single quotes unless the
    /// text has `'` and no `"`; `\\`, `\n`, `\r`, `\t`; other non-printable characters as `\xNN`, `\uNNNN`,
    /// `\UNNNNNNNN`), lists `[1, 'two']` and dicts `{'dry_run': True}`.
    ///
    /// "Printable" follows `str.isprintable`, read from the Unicode general category of this Swift runtime, so
    /// characters assigned after the Python build's Unicode version may differ.
    ///
    /// Note that Celery's `argsrepr`/`kwargsrepr` headers are *not* `repr` but `saferepr`; see ``celerySafeRepr(maxLength:maxLevels:)``.
    public var pythonRepr: String {
        var out = ""
        writeRepr(to: &out)
        return out
    }

    private func writeRepr(to out: inout String) {
        switch self {
        case .null: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .double(let d): out += PythonFloat.repr(d)
        case .string(let s): JSONValue.writeStringRepr(s, to: &out)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += ", " }
                element.writeRepr(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, member) in object.members.enumerated() {
                if i > 0 { out += ", " }
                JSONValue.writeStringRepr(member.key, to: &out)
                out += ": "
                member.value.writeRepr(to: &out)
            }
            out += "}"
        }
    }

    private static let hex: [Character] = Array("0123456789abcdef")

    static func writeStringRepr(_ s: String, to out: inout String) {
        var hasSingle = false
        var hasDouble = false
        for u in s.utf8 {
            if u == UInt8(ascii: "'") { hasSingle = true } else if u == UInt8(ascii: "\"") { hasDouble = true }
        }
        let quote: Unicode.Scalar = hasSingle && !hasDouble ? "\"" : "'"
        var scalars = String.UnicodeScalarView()
        scalars.append(quote)
        func hexEscape(_ prefix: Unicode.Scalar, _ value: UInt32, digits: Int) {
            scalars.append("\\")
            scalars.append(prefix)
            for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                scalars.append(hex[Int((value >> UInt32(shift)) & 0xF)].unicodeScalars.first!)
            }
        }
        for scalar in s.unicodeScalars {
            let v = scalar.value
            if scalar == quote || scalar == "\\" {
                scalars.append("\\")
                scalars.append(scalar)
            } else if scalar == "\t" {
                scalars.append("\\"); scalars.append("t")
            } else if scalar == "\n" {
                scalars.append("\\"); scalars.append("n")
            } else if scalar == "\r" {
                scalars.append("\\"); scalars.append("r")
            } else if v < 0x20 || v == 0x7F {
                hexEscape("x", v, digits: 2)
            } else if v < 0x7F {
                scalars.append(scalar)
            } else if isPrintable(scalar) {
                scalars.append(scalar)
            } else if v <= 0xFF {
                hexEscape("x", v, digits: 2)
            } else if v <= 0xFFFF {
                hexEscape("u", v, digits: 4)
            } else {
                hexEscape("U", v, digits: 8)
            }
        }
        scalars.append(quote)
        out += String(scalars)
    }

    /// `str.isprintable()` for one non-ASCII character: false for categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
