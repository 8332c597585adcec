public import Foundation

/// A five-field cron expression: `minute hour day-of-month month day-of-week`.
///
/// Each field takes `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the field's end), or
/// a comma-separated list of those. Months take `jan`…`dec` and days of the week `sun`…`sat` (case-insensitive);
/// day of week 0 and 7 are both Sunday. The macros `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly` and
/// `@yearly` (`@annually`) are accepted.
///
/// As in Vixie cron, when both day fields are restricted (neither starts with `*`) a day matches if **either**
/// matches (`0 0 1 * mon` = the 1st and every Monday); otherwise both must.
///
/// Times are evaluated in a time zone (UTC by default). In a zone with daylight saving, a local time that does not
/// exist (the spring-forward gap) fires at the same wall-clock offset as before the change, i.e. one hour later;
/// a local time that occurs twice (fall back) fires on its first occurrence only.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    let daysOfWeek: UInt64
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public var description: String { source }

    private static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses an expression.
    /// - Throws: ``BeatScheduleError`` naming the field and the problem, or saying that the expression can never
    ///   match (`0 0 30 2 *`).
    public init(_ text: String) throws(BeatScheduleError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw BeatScheduleError(
                "cron expression \"\(trimmed)\" has \(fields.count) field\(fields.count == 1 ? "" : "s"); "
                    + "expected 5: minute hour day-of-month month day-of-week")
        }
        source = trimmed
        minutes = try Self.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try Self.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        var dow = try Self.field(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames, firstName: 0)
        if dow & (1 << 7) != 0 { dow = (dow | 1) & ~(1 << 7) }
        daysOfWeek = dow
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
        // 2000-01-01: a leap year follows, so any satisfiable day/month pair occurs within 8 years.
        if nextMinute(afterLocalMinute: 10_957 * 1440, searchYears: 9) == nil {
            throw BeatScheduleError("cron expression \"\(trimmed)\" never matches a real date")
        }
    }

    /// The first time strictly after `after` (whole minutes) that matches, in `timeZone`; nil if none within
    /// 30 years.
    public func next(after: Date, timeZone: TimeZone = .utc) -> Date? {
        next(after: Int64(after.timeIntervalSince1970.rounded(.down)), timeZone: timeZone).map {
            Date(timeIntervalSince1970: TimeInterval($0))
        }
    }

    /// Unix-seconds form of ``next(after:timeZone:)``.
    public func next(after unix: Int64, timeZone: TimeZone = .utc) -> Int64? {
        var after = unix
        for _ in 0..<4 {  // a DST fall-back repeat can yield a time ≤ after; search on from there
            let offset = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(after))))
            let localMinute = CivilTime.floorDiv(after + offset, 60)
            guard let found = nextMinute(afterLocalMinute: localMinute, searchYears: 30) else { return nil }
            let local = found * 60
            // Local → UTC: the offset in force at that instant (two passes settle it); in a gap keep the earlier offset.
            let guess = local - offset
            let offset2 = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(guess))))
            var utc = local - offset2
            if Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(utc)))) != offset2 {
                utc = guess
            }
            if utc > unix { return utc }
            after = max(after + 60, local - offset2 + 60)
        }
        return nil
    }

    /// The first matching local minute (minutes since 1970-01-01 in local civil time) after `afterLocalMinute`.
    func nextMinute(afterLocalMinute start: Int64, searchYears: Int) -> Int64? {
        var day = Int(CivilTime.floorDiv(start + 1, 1440))
        var minuteOfDay = Int(start + 1 - Int64(day) * 1440)
        var (year, month, dayOfMonth) = CivilTime.date(days: day)
        let lastYear = year + searchYears
        while year <= lastYear {
            if months & (1 << UInt64(month)) == 0 {
                // First day of the next month.
                if month == 12 { (year, month) = (year + 1, 1) } else { month += 1 }
                dayOfMonth = 1
                day = CivilTime.days(year: year, month: month, day: 1)
                minuteOfDay = 0
                continue
            }
            if dayMatches(day: day, dayOfMonth: dayOfMonth), let m = firstMinute(from: minuteOfDay) {
                return Int64(day) * 1440 + Int64(m)
            }
            day += 1
            minuteOfDay = 0
            (year, month, dayOfMonth) = CivilTime.date(days: day)
        }
        return nil
    }

    private func dayMatches(day: Int, dayOfMonth: Int) -> Bool {
        let domOK = daysOfMonth & (1 << UInt64(dayOfMonth)) != 0
        let dowOK = daysOfWeek & (1 << UInt64(CivilTime.weekday(days: day))) != 0
        if dayOfMonthRestricted && dayOfWeekRestricted { return domOK || dowOK }
        return domOK && dowOK
    }

    private func firstMinute(from minuteOfDay: Int) -> Int? {
        let startHour = minuteOfDay / 60
        guard startHour < 24 else { return nil }
        for hour in startHour..<24 where hours & (1 << UInt64(hour)) != 0 {
            for minute in (hour == startHour ? minuteOfDay % 60 : 0)..<60 where minutes & (1 << UInt64(minute)) != 0 {
                return hour * 60 + minute
            }
        }
        return nil
    }

    // MARK: - Parsing

    private static func field(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String], firstName: Int = 0
    ) throws(BeatScheduleError) -> UInt64 {
        func fail(_ reason: String) -> BeatScheduleError {
            BeatScheduleError("cron \(name) field \"\(text)\": \(reason)")
        }
        func value(_ token: Substring) throws(BeatScheduleError) -> Int {
            if let v = Int(token) {
                guard range.contains(v) else {
                    throw fail("\(v) is out of range \(range.lowerBound)-\(range.upperBound)")
                }
                return v
            }
            if let index = names.firstIndex(of: token.lowercased()) { return index + firstName }
            let hint = names.isEmpty ? "" : " (or a name such as \(names[0]))"
            throw fail("\"\(token)\" is not a number\(hint)")
        }
        var bits: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw fail("empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw fail("\"\(part)\" has more than one step") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw fail("step \"\(pieces[1])\" must be a positive number") }
                step = s
            }
            let base = pieces[0]
            var low: Int
            var high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(base[..<dash])
                high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw fail("range \(low)-\(high) is reversed") }
            } else {
                low = try value(base)
                high = pieces.count == 2 ? range.upperBound : low
            }
            var v = low
            while v <= high {
                bits |= 1 << UInt64(v)
                v += step
            }
        }
        return bits
    }
}

extension TimeZone {
    /// UTC (`TimeZone.gmt` spelled for cron users).
    public static let utc = TimeZone(secondsFromGMT: 0)!
}
