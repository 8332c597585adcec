/// Python's `float.__repr__`, which `json.dumps`, `repr` and `str` all use for floats.
///
/// Both Python (David Gay's shortest mode) and Swift (`Double.description`) print the shortest digit string that
/// round-trips, choosing the closest one on ties, so the digits are taken from Swift and only the layout is redone
/// with Python's rule: positional notation when the decimal exponent is in `-4 < decpt <= 16`, otherwise
/// `d.ddde±XX` with at least two exponent digits; a positional integer value gets `.0`.
package enum PythonFloat {
    /// `repr(x)` for a finite or non-finite double. Non-finite values print as Python's `repr` does (`nan`, `inf`).
    package static func repr(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        return format(x)
    }

    /// `json.dumps(x)` for a double (`NaN`, `Infinity`, `-Infinity` for non-finite values, as Python writes them).
    package static func json(_ x: Double) -> String {
        if x.isNaN { return "NaN" }
        if x.isInfinite { return x < 0 ? "-Infinity" : "Infinity" }
        return format(x)
    }

    private static func format(_ x: Double) -> String {
        let sign = x.sign == .minus ? "-" : ""
        if x == 0 { return sign + "0.0" }
        let (digits, decpt) = shortestDigits(x.magnitude)
        if decpt <= -4 || decpt > 16 {
            var out = sign + String(digits.first!)
            if digits.count > 1 {
                out += "." + digits.dropFirst()
            }
            let exponent = decpt - 1
            out += exponent < 0 ? "e-" : "e+"
            let magnitude = exponent.magnitude
            if magnitude < 10 { out += "0" }
            out += String(magnitude)
            return out
        }
        if decpt <= 0 {
            return sign + "0." + String(repeating: "0", count: -decpt) + digits
        }
        if decpt >= digits.count {
            return sign + digits + String(repeating: "0", count: decpt - digits.count) + ".0"
        }
        let split = digits.index(digits.startIndex, offsetBy: decpt)
        return sign + digits[..<split] + "." + digits[split...]
    }

    /// The shortest round-trip digits of a positive finite double (no leading or trailing zeros) and the position of
    /// the decimal point: `x = 0.DIGITS × 10^decpt`.
    package static func shortestDigits(_ x: Double) -> (digits: String, decpt: Int) {
        let text = x.description  // e.g. "123.45", "1e-05", "1.2345e+20", "5e-324"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var integerPart = mantissa
        var fractionPart: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fractionPart = mantissa[mantissa.index(after: dot)...]
        }
        var all = String(integerPart) + fractionPart
        var decpt = integerPart.count + exponent
        // Strip leading zeros (each moves the point left) and trailing zeros.
        while all.first == "0" {
            all.removeFirst()
            decpt -= 1
        }
        while all.last == "0" { all.removeLast() }
        if all.isEmpty { return ("0", 1) }
        return (all, decpt)
    }
}
