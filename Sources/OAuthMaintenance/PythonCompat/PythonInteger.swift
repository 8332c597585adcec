/// The result of Python's `int(text)` on a string, as Django's `IntegerField.to_python` calls it.
///
/// Accepted like CPython: surrounding Unicode whitespace, one optional `+`/`-`, decimal digits from any
/// script (Unicode category Nd), single underscores between digits, at most 4,300 digits
/// (`sys.int_info.default_max_str_digits`). The value is kept as a canonical decimal string, since it may
/// exceed every fixed-width integer and Django's messages print it in full.
struct PythonInteger: Sendable, Hashable {
    /// The value as Python prints it: no leading zeros, `-` for negatives, `0` for zero.
    let canonicalDecimal: String

    var isNegative: Bool { canonicalDecimal.hasPrefix("-") }
    var isZero: Bool { canonicalDecimal == "0" }

    /// The value when it fits PostgreSQL `integer`.
    var int32Value: Int32? { Int32(canonicalDecimal) }

    /// nil where Python's `int(text)` raises `ValueError`.
    init?(parsing text: String) {
        // One scan from each end (linear), then a slice: millions of spaces cost milliseconds.
        let all = Array(text.unicodeScalars)
        let start = all.firstIndex { !PythonString.isSpace($0) } ?? all.endIndex
        let end = all.lastIndex { !PythonString.isSpace($0) }.map { $0 + 1 } ?? start
        var scalars = all[start..<Swift.max(start, end)]
        var negative = false
        if let first = scalars.first, first == "+" || first == "-" {
            negative = first == "-"
            scalars.removeFirst()
        }
        guard !scalars.isEmpty else { return nil }
        var digits: [UInt8] = []
        var previousWasUnderscore = true  // forbids a leading underscore
        for scalar in scalars {
            if scalar == "_" {
                if previousWasUnderscore { return nil }
                previousWasUnderscore = true
                continue
            }
            guard scalar.properties.numericType == .decimal, let value = scalar.properties.numericValue else { return nil }
            digits.append(UInt8(value) + 0x30)
            previousWasUnderscore = false
        }
        guard !previousWasUnderscore, digits.count <= 4300 else { return nil }
        let firstSignificant = digits.dropLast().firstIndex { $0 != 0x30 } ?? (digits.count - 1)
        let magnitude = String(decoding: digits[firstSignificant...], as: UTF8.self)
        canonicalDecimal = negative && magnitude != "0" ? "-" + magnitude : magnitude
    }
}
