/// The result of Python's `int(text)` on a string, as Django's `IntegerField.to_python` calls it.
///
/// Accepted like CPython: surrounding Unicode whitespace, one optional `+`/`-`, decimal digits from any
/// script (Unicode category Nd), single underscores between digits, at most 4,300 digits
/// (`sys.int_info.default_max_str_digits`). The value is kept as a canonical decimal string, since it may
/// exceed every fixed-width integer and Django's messages print it in full.
package struct PythonInteger: Sendable, Hashable {
    /// The value as Python prints it: no leading zeros, `-` for negatives, `0` for zero.
    package let canonicalDecimal: String

    package var isNegative: Bool { canonicalDecimal.hasPrefix("-") }
    package var isZero: Bool { canonicalDecimal == "0" }

    /// The value when it fits PostgreSQL `integer`.
    package var int32Value: Int32? { Int32(canonicalDecimal) }

    /// nil where Python's `int(text)` raises `ValueError`.
    package init?(parsing text: String) {
        var scalars = Array(text.unicodeScalars)
        while let first = scalars.first, PythonString.isSpace(first) { scalars.removeFirst() }
        while let last = scalars.last, PythonString.isSpace(last) { scalars.removeLast() }
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
        while digits.count > 1 && digits.first == 0x30 { digits.removeFirst() }
        let magnitude = String(decoding: digits, as: UTF8.self)
        canonicalDecimal = negative && magnitude != "0" ? "-" + magnitude : magnitude
    }
}
