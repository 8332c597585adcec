import CivilCalendar
import Foundation

/// Conversion between `Date` and PostgreSQL's ISO text form (`DateStyle=ISO`, the session runs in UTC), in
/// whole microseconds, with integer calendar arithmetic (no `Calendar`, no `DateFormatter`).
enum PostgresTimestamp {
    static let microsecondsPerSecond: Int64 = 1_000_000
    static let microsecondsPerDay: Int64 = 86_400 * microsecondsPerSecond
    /// Seconds from 1970-01-01 to 2001-01-01 (Foundation's reference date).
    static let referenceOffset: Int64 = 978_307_200 * microsecondsPerSecond

    /// Microseconds since 1970, rounded to the nearest microsecond. Computed from the reference date,
    /// which is how `Date` stores its value, so no precision is lost on the way.
    static func microseconds(of date: Date) -> Int64 {
        let micros = (date.timeIntervalSinceReferenceDate * 1_000_000).rounded()
        guard let value = Int64(exactly: micros) else {
            return micros > 0 ? Int64.max / 2 : Int64.min / 2
        }
        return value + referenceOffset
    }

    static func date(microsecondsSince1970 micros: Int64) -> Date {
        Date(timeIntervalSinceReferenceDate: Double(micros - referenceOffset) / 1_000_000)
    }

    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, with ` BC` for years before 1.
    static func format(microsecondsSince1970 micros: Int64) -> String {
        let (days, timeOfDay) = floorDivide(micros, microsecondsPerDay)
        let civil = CivilDate.date(days: Int(days))
        let (year, month, day) = (Int64(civil.year), Int64(civil.month), Int64(civil.day))
        let seconds = timeOfDay / microsecondsPerSecond
        let fraction = timeOfDay % microsecondsPerSecond
        let displayYear = year > 0 ? year : 1 - year
        var text = pad(displayYear, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + " "
        text += pad(seconds / 3600, 2) + ":" + pad(seconds / 60 % 60, 2) + ":" + pad(seconds % 60, 2)
        text += "." + pad(fraction, 6) + "+00"
        if year <= 0 { text += " BC" }
        return text
    }

    /// Parses `YYYY-MM-DD[ HH:MM:SS[.f…]][±HH[:MM[:SS]]][ BC]` into microseconds since 1970 (UTC).
    /// Returns nil for `infinity`, `-infinity` and anything malformed.
    static func parse(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)[...]
        var isBC = false
        if bytes.count > 3, bytes.suffix(3).elementsEqual(" BC".utf8) {
            isBC = true
            bytes = bytes.dropLast(3)
        }
        func number(minDigits: Int, maxDigits: Int) -> Int64? {
            var value: Int64 = 0
            var count = 0
            while let c = bytes.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9"), count < maxDigits {
                value = value * 10 + Int64(c - UInt8(ascii: "0"))
                count += 1
                bytes = bytes.dropFirst()
            }
            return count >= minDigits ? value : nil
        }
        func expect(_ c: Character) -> Bool {
            guard bytes.first == c.asciiValue else { return false }
            bytes = bytes.dropFirst()
            return true
        }
        guard var year = number(minDigits: 4, maxDigits: 9), expect("-"),
            let month = number(minDigits: 2, maxDigits: 2), expect("-"),
            let day = number(minDigits: 2, maxDigits: 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        if isBC { year = 1 - year }
        var micros = Int64(CivilDate.days(year: Int(year), month: Int(month), day: Int(day))) * microsecondsPerDay
        guard !bytes.isEmpty else { return micros }
        guard expect(" "), let hour = number(minDigits: 2, maxDigits: 2), expect(":"),
            let minute = number(minDigits: 2, maxDigits: 2), expect(":"),
            let second = number(minDigits: 2, maxDigits: 2), hour <= 24, minute < 60, second < 61
        else { return nil }
        micros += ((hour * 60 + minute) * 60 + second) * microsecondsPerSecond
        if expect(".") {
            var scale: Int64 = 100_000
            var fraction: Int64 = 0
            var count = 0
            while let c = bytes.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                if count < 6 { fraction += Int64(c - UInt8(ascii: "0")) * scale; scale /= 10 }
                count += 1
                bytes = bytes.dropFirst()
            }
            guard count > 0 else { return nil }
            micros += fraction
        }
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            bytes = bytes.dropFirst()
            guard let offsetHours = number(minDigits: 2, maxDigits: 2) else { return nil }
            var offset = offsetHours * 3600
            if expect(":") {
                guard let offsetMinutes = number(minDigits: 2, maxDigits: 2) else { return nil }
                offset += offsetMinutes * 60
                if expect(":") {
                    guard let offsetSeconds = number(minDigits: 2, maxDigits: 2) else { return nil }
                    offset += offsetSeconds
                }
            }
            // Local time = UTC + offset.
            micros -= (sign == UInt8(ascii: "+") ? offset : -offset) * microsecondsPerSecond
        }
        return bytes.isEmpty ? micros : nil
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var q = a / b
        var r = a % b
        if r < 0 {
            q -= 1
            r += b
        }
        return (q, r)
    }
}
