/// The few Python `str` behaviours DOT's messages and parsing depend on, on Unicode scalars (code points),
/// as Python's `str` is.
package enum PythonString {
    /// `len(s)`: the number of code points (not grapheme clusters).
    package static func length(_ string: String) -> Int {
        string.unicodeScalars.count
    }

    /// `str.isspace()` for one code point (CPython `_PyUnicode_IsWhitespace`).
    package static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            true
        default:
            false
        }
    }

    /// `s.split()`: runs of whitespace separate fields; leading and trailing whitespace yield nothing.
    package static func splitOnWhitespace(_ string: String) -> [String] {
        var fields: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            if isSpace(scalar) {
                if !current.isEmpty {
                    fields.append(String(current))
                    current = String.UnicodeScalarView()
                }
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { fields.append(String(current)) }
        return fields
    }

    /// `s.split(separator, maxSplits)`.
    package static func split(_ string: String, separator: Unicode.Scalar, maxSplits: Int) -> [String] {
        var fields: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            if scalar == separator && fields.count < maxSplits {
                fields.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        fields.append(String(current))
        return fields
    }

    /// `str.isprintable()` for one code point: false for categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs
    /// other than the ASCII space.
    package static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// `repr(s)`: single quotes unless `s` contains `'` and no `"`; backslash escapes for `\\`, the quote,
    /// `\t`, `\n`, `\r` and non-printable code points (`\xhh`, `\uhhhh`, `\Uhhhhhhhh`); all else as is.
    package static func repr(_ string: String) -> String {
        let scalars = string.unicodeScalars
        let quote: Unicode.Scalar = scalars.contains("'") && !scalars.contains("\"") ? "\"" : "'"
        var out = String.UnicodeScalarView()
        out.append(quote)
        for scalar in scalars {
            switch scalar {
            case quote, "\\":
                out.append("\\")
                out.append(scalar)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out.append(contentsOf: hexEscape("x", scalar.value, digits: 2).unicodeScalars)
                } else if scalar.value < 0x7F || isPrintable(scalar) {
                    out.append(scalar)
                } else if scalar.value <= 0xFF {
                    out.append(contentsOf: hexEscape("x", scalar.value, digits: 2).unicodeScalars)
                } else if scalar.value <= 0xFFFF {
                    out.append(contentsOf: hexEscape("u", scalar.value, digits: 4).unicodeScalars)
                } else {
                    out.append(contentsOf: hexEscape("U", scalar.value, digits: 8).unicodeScalars)
                }
            }
        }
        out.append(quote)
        return String(out)
    }

    /// `str(list_of_str)`: `[` + `", ".join(repr(m))` + `]`.
    package static func listRepr(_ strings: [String]) -> String {
        "[" + strings.map(repr).joined(separator: ", ") + "]"
    }

    private static func hexEscape(_ letter: String, _ value: UInt32, digits: Int) -> String {
        let hex = String(value, radix: 16)
        return "\\" + letter + String(repeating: "0", count: max(0, digits - hex.count)) + hex
    }
}
