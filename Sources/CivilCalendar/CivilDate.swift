/// Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01), with no `Calendar`:
/// fast, locale-free and exact. One copy for the modules that read and write timestamps themselves
/// (PostgreSQL's text format, Celery's ISO-8601, beat's cron maths), which must not depend on each other.
public enum CivilDate {
    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    public static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday).
    public static func weekday(days: Int) -> Int {
        let w = (days + 4) % 7
        return w < 0 ? w + 7 : w
    }

    public static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Floor division (rounds toward negative infinity), for times before 1970 too.
    public static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}

extension CivilDate {
    /// `YYYY-MM-DDTHH:MM:SS[.fff…]Z` for `seconds` since 1970 (UTC) and a fraction of a second given as
    /// `fraction` in units of 10^-`fractionDigits` (no fraction when `fractionDigits` is 0). Plain
    /// integer formatting: `String(format:)` and date formatters map ICU data (megabytes of RSS).
    public static func isoUTC(seconds: Int64, fraction: Int = 0, fractionDigits: Int = 0) -> String {
        let days = floorDiv(seconds, 86_400)
        let second = Int(seconds - days * 86_400)
        let (y, m, d) = date(days: Int(days))
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        let time = "\(pad(second / 3600, 2)):\(pad(second % 3600 / 60, 2)):\(pad(second % 60, 2))"
        let fractionText = fractionDigits > 0 ? "." + pad(fraction, fractionDigits) : ""
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(time)\(fractionText)Z"
    }
}
