import CivilCalendar
public import Foundation

/// ISO-8601 timestamps as Celery writes and reads them (`datetime.isoformat()` / `datetime.fromisoformat`).
///
/// Precision is the microsecond, as in Python. No `Calendar` or `DateFormatter` is involved: the conversion is the
/// proleptic Gregorian calendar in UTC, so it is fast, locale-free and thread-safe.
public enum CeleryTimestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.f…][Z|±HH:MM|±HHMM|±HH:MM:SS]`, also with a space instead of `T` and with minutes
    /// only (`HH:MM`). Fractions of 1–9 digits are accepted and truncated to microseconds. A timestamp without an offset
    /// is taken as UTC (Celery's default `timezone`). Returns `nil` for anything else or an impossible date.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0

        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int(c - UInt8(ascii: "0"))
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }

        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
            let day = digits(2)
        else { return nil }
        guard i < b.count, b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hour = digits(2), expect(UInt8(ascii: ":")), let minute = digits(2) else { return nil }
        var second = 0
        var micro = 0
        if expect(UInt8(ascii: ":")) {
            guard let s = digits(2) else { return nil }
            second = s
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
                i += 1
                var n = 0
                var fraction = 0
                while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                    if n < 6 { fraction = fraction * 10 + Int(b[i] - UInt8(ascii: "0")) }
                    n += 1
                    i += 1
                }
                guard (1...9).contains(n) else { return nil }
                for _ in n..<max(n, 6) { fraction *= 10 }
                micro = fraction
            }
        }
        var offsetSeconds = 0
        if i < b.count {
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = digits(2) else { return nil }
                let colon = expect(UInt8(ascii: ":"))
                guard let om = digits(2) else { return nil }
                var os = 0
                if colon, expect(UInt8(ascii: ":")) {
                    guard let s = digits(2) else { return nil }
                    os = s
                }
                guard oh < 24, om < 60, os < 60 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60 + os)
            } else {
                return nil
            }
        }
        guard i == b.count else { return nil }
        guard (1...9999).contains(year), (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 60
        else { return nil }

        let days = CivilDate.days(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return Date(timeIntervalSince1970: Double(seconds) + Double(micro) / 1_000_000)
    }

    /// Formats like Python's `datetime.now(timezone.utc).isoformat()`: `2026-11-30T01:56:21.713571+00:00`, with the
    /// fraction left out when the microseconds are zero (`2030-01-02T03:04:05+00:00`). The date is rounded to the
    /// nearest microsecond and clamped to years 1…9999.
    public static func format(_ date: Date) -> String {
        let totalMicros = microseconds(date)
        var seconds = totalMicros / 1_000_000
        var micro = totalMicros % 1_000_000
        if micro < 0 {
            micro += 1_000_000
            seconds -= 1
        }
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = CivilDate.date(days: Int(days))
        let hour = Int(secondOfDay / 3600)
        let minute = Int(secondOfDay % 3600 / 60)
        let second = Int(secondOfDay % 60)

        var out = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        out += "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":" + pad(second, 2)
        if micro != 0 { out += "." + pad(Int(micro), 6) }
        return out + "+00:00"
    }

    /// Microseconds since 1970 (rounded), clamped to years 1…9999; non-finite dates read as the epoch.
    static func microseconds(_ date: Date) -> Int64 {
        var t = date.timeIntervalSince1970
        if !t.isFinite { t = 0 }
        // 0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999999Z, clamped in seconds first so the conversion cannot trap.
        let minimum: Int64 = -62_135_596_800_000_000
        let maximum: Int64 = 253_402_300_799_999_999
        t = Swift.min(Swift.max(t, -62_135_596_801), 253_402_300_801)
        return Swift.min(Swift.max(Int64((t * 1_000_000).rounded()), minimum), maximum)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
