import CivilCalendar

/// Beat's calendar helpers: the arithmetic is ``CivilDate``'s; cron maths in UTC never meets a DST rule.
enum CivilTime {
    static func days(year: Int, month: Int, day: Int) -> Int { CivilDate.days(year: year, month: month, day: day) }
    static func date(days: Int) -> (year: Int, month: Int, day: Int) { CivilDate.date(days: days) }
    static func weekday(days: Int) -> Int { CivilDate.weekday(days: days) }
    static func daysIn(month: Int, year: Int) -> Int { CivilDate.daysIn(month: month, year: year) }
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { CivilDate.floorDiv(a, b) }

    /// `2026-11-30T03:00:00Z` for a unix time in seconds.
    static func iso(_ unix: Int64) -> String { CivilDate.isoUTC(seconds: unix) }
}
