import Beat
import Foundation
import CeleryProtocol
import Testing

/// Unix seconds of a UTC ISO time.
func unix(_ iso: String) -> Int64 {
    Int64(CeleryTimestamp.parse(iso)!.timeIntervalSince1970)
}

/// The UTC ISO form (`…+00:00`) of unix seconds.
func iso(_ unix: Int64?) -> String? {
    unix.map { CeleryTimestamp.format(Date(timeIntervalSince1970: TimeInterval($0))) }
}

/// The next `count` times after `start`.
func nextTimes(_ schedule: String, after start: String, count: Int = 1, zone: TimeZone = .utc) throws -> [String] {
    let parsed = try BeatSchedule(parsing: schedule)
    var cursor = unix(start)
    var out: [String] = []
    for _ in 0..<count {
        guard let next = parsed.next(after: cursor, timeZone: zone) else { break }
        out.append(iso(next)!)
        cursor = next
    }
    return out
}

@Suite struct CronExpressionTests {
    @Test("every minute: strictly after, seconds dropped")
    func everyMinute() throws {
        #expect(try nextTimes("* * * * *", after: "2026-11-30T05:00:00+00:00", count: 2)
            == ["2026-11-30T05:01:00+00:00", "2026-11-30T05:02:00+00:00"])
        #expect(try nextTimes("* * * * *", after: "2026-11-30T05:00:59+00:00") == ["2026-11-30T05:01:00+00:00"])
    }

    @Test("daily at 03:00 rolls over days, months and years")
    func daily() throws {
        #expect(try nextTimes("0 3 * * *", after: "2026-11-30T02:59:00+00:00") == ["2026-11-30T03:00:00+00:00"])
        #expect(try nextTimes("0 3 * * *", after: "2026-11-30T03:00:00+00:00") == ["2026-12-01T03:00:00+00:00"])
        #expect(try nextTimes("0 3 * * *", after: "2026-12-31T03:00:00+00:00") == ["2027-01-01T03:00:00+00:00"])
    }

    @Test("month ends: the 31st skips short months; last day of February")
    func monthEnds() throws {
        #expect(try nextTimes("0 0 31 * *", after: "2026-01-31T00:00:00+00:00", count: 3)
            == ["2026-03-31T00:00:00+00:00", "2026-05-31T00:00:00+00:00", "2026-07-31T00:00:00+00:00"])
        #expect(try nextTimes("0 12 30 * *", after: "2026-01-30T12:00:00+00:00") == ["2026-03-30T12:00:00+00:00"])
        #expect(try nextTimes("59 23 28-29 2 *", after: "2026-02-28T23:59:00+00:00") == ["2027-02-28T23:59:00+00:00"])
    }

    @Test("leap years: Feb 29 every four years, not in 2100, yes in 2000 and 2400")
    func leapYears() throws {
        #expect(try nextTimes("0 0 29 2 *", after: "2025-01-01T00:00:00+00:00", count: 2)
            == ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"])
        #expect(try nextTimes("0 0 29 2 *", after: "2096-03-01T00:00:00+00:00") == ["2104-02-29T00:00:00+00:00"])
        #expect(try nextTimes("0 0 29 2 *", after: "1999-01-01T00:00:00+00:00") == ["2000-02-29T00:00:00+00:00"])
    }

    @Test("ranges, steps and lists")
    func rangesAndSteps() throws {
        #expect(try nextTimes("*/15 * * * *", after: "2026-11-30T05:00:00+00:00", count: 4)
            == ["2026-11-30T05:15:00+00:00", "2026-11-30T05:30:00+00:00", "2026-11-30T05:45:00+00:00",
                "2026-11-30T06:00:00+00:00"])
        #expect(try nextTimes("10-20/5 8-9 * * *", after: "2026-11-30T08:20:00+00:00", count: 3)
            == ["2026-11-30T09:10:00+00:00", "2026-11-30T09:15:00+00:00", "2026-11-30T09:20:00+00:00"])
        #expect(try nextTimes("0 1,13 * * *", after: "2026-11-30T01:00:00+00:00", count: 2)
            == ["2026-11-30T13:00:00+00:00", "2026-12-01T01:00:00+00:00"])
        #expect(try nextTimes("5/20 * * * *", after: "2026-11-30T05:00:00+00:00", count: 3)
            == ["2026-11-30T05:05:00+00:00", "2026-11-30T05:25:00+00:00", "2026-11-30T05:45:00+00:00"])
    }

    @Test("names of months and days; 7 is Sunday")
    func names() throws {
        // 2026-11-30 is a Monday.
        #expect(try nextTimes("30 6 * * mon-fri", after: "2026-12-04T07:00:00+00:00") == ["2026-12-07T06:30:00+00:00"])
        #expect(try nextTimes("0 0 * * 7", after: "2026-11-30T00:00:00+00:00") == ["2026-12-06T00:00:00+00:00"])
        #expect(try nextTimes("0 0 * * SUN", after: "2026-11-30T00:00:00+00:00") == ["2026-12-06T00:00:00+00:00"])
        #expect(try nextTimes("0 0 1 jan,Jul *", after: "2026-01-01T00:00:00+00:00") == ["2026-07-01T00:00:00+00:00"])
    }

    @Test("both day fields restricted: either matches (Vixie cron); one restricted: both must")
    func dayFieldSemantics() throws {
        // The 1st, or any Friday: Friday 2026-12-04 comes before the 1st of January.
        #expect(try nextTimes("0 0 1 * fri", after: "2026-12-01T00:00:00+00:00") == ["2026-12-04T00:00:00+00:00"])
        // `*/2` starts with `*`, so both must match: odd days that are Fridays (not Friday the 4th).
        #expect(try nextTimes("0 0 */2 * fri", after: "2026-12-01T00:00:00+00:00") == ["2026-12-11T00:00:00+00:00"])
        #expect(try nextTimes("0 0 13 * fri", after: "2026-11-01T00:00:00+00:00", count: 2)
            == ["2026-11-06T00:00:00+00:00", "2026-11-13T00:00:00+00:00"])
    }

    @Test("macros")
    func macros() throws {
        #expect(try nextTimes("@hourly", after: "2026-11-30T05:10:00+00:00") == ["2026-11-30T06:00:00+00:00"])
        #expect(try nextTimes("@daily", after: "2026-11-30T05:10:00+00:00") == ["2026-12-01T00:00:00+00:00"])
        #expect(try nextTimes("@yearly", after: "2026-11-30T05:10:00+00:00") == ["2027-01-01T00:00:00+00:00"])
    }

    @Test("a time zone: 03:00 in Paris is 02:00 UTC in winter, 01:00 UTC in summer")
    func timeZone() throws {
        let paris = try #require(TimeZone(identifier: "Europe/Paris"))
        #expect(try nextTimes("0 3 * * *", after: "2026-11-30T00:00:00+00:00", zone: paris) == ["2026-11-30T02:00:00+00:00"])
        #expect(try nextTimes("0 3 * * *", after: "2026-07-01T00:00:00+00:00", zone: paris) == ["2026-07-01T01:00:00+00:00"])
        // 02:30 does not exist on 2026-03-29 in Paris: it fires at 03:30 local (01:30 UTC).
        #expect(try nextTimes("30 2 * * *", after: "2026-03-29T00:00:00+00:00", zone: paris) == ["2026-03-29T01:30:00+00:00"])
    }

    @Test(
        "invalid expressions give a clear error",
        arguments: [
            ("0 3 * *", "has 4 fields; expected 5"),
            ("60 * * * *", "cron minute field \"60\": 60 is out of range 0-59"),
            ("* 24 * * *", "cron hour field \"24\": 24 is out of range 0-23"),
            ("* * 0 * *", "cron day-of-month field \"0\": 0 is out of range 1-31"),
            ("* * * 13 *", "cron month field \"13\": 13 is out of range 1-12"),
            ("* * * * 8", "cron day-of-week field \"8\": 8 is out of range 0-7"),
            ("*/0 * * * *", "step \"0\" must be a positive number"),
            ("5-1 * * * *", "range 5-1 is reversed"),
            ("1,,2 * * * *", "empty list item"),
            ("x * * * *", "\"x\" is not a number"),
            ("* * * foo *", "\"foo\" is not a number (or a name such as jan)"),
            ("0 0 30 2 *", "never matches a real date"),
            ("0 0 31 4,6 *", "never matches a real date"),
        ])
    func invalid(expression: String, message: String) {
        #expect {
            _ = try CronExpression(expression)
        } throws: { error in
            String(describing: error).contains(message)
        }
    }
}

@Suite struct IntervalScheduleTests {
    @Test("intervals are aligned to the epoch")
    func aligned() throws {
        #expect(try nextTimes("every 30s", after: "2026-11-30T05:00:10+00:00", count: 2)
            == ["2026-11-30T05:00:30+00:00", "2026-11-30T05:01:00+00:00"])
        #expect(try nextTimes("every 5m", after: "2026-11-30T05:04:59+00:00") == ["2026-11-30T05:05:00+00:00"])
        #expect(try nextTimes("every 1h", after: "2026-11-30T05:00:00+00:00") == ["2026-11-30T06:00:00+00:00"])
        #expect(try nextTimes("every 1d", after: "2026-11-30T05:00:00+00:00") == ["2026-12-01T00:00:00+00:00"])
        #expect(try nextTimes("every 1s", after: "2026-11-30T05:00:00+00:00", count: 2)
            == ["2026-11-30T05:00:01+00:00", "2026-11-30T05:00:02+00:00"])
        #expect(try nextTimes("EVERY 2 minutes", after: "2026-11-30T05:00:00+00:00") == ["2026-11-30T05:02:00+00:00"])
    }

    @Test("descriptions are normalised")
    func descriptions() throws {
        #expect(try BeatSchedule(parsing: "every 60s").description == "every 1m")
        #expect(try BeatSchedule(parsing: "every 90s").description == "every 90s")
        #expect(try BeatSchedule(parsing: "every 24h").description == "every 1d")
        #expect(try BeatSchedule(parsing: "0 3 * * *").description == "0 3 * * *")
    }

    @Test("invalid intervals", arguments: ["every", "every 0s", "every -5s", "every 5", "every 5w", "every s", "every 1.5h"])
    func invalid(text: String) {
        #expect {
            _ = try BeatSchedule(parsing: text)
        } throws: { error in
            String(describing: error).contains("is not valid: write every <N><unit>")
        }
    }

    @Test("latest missed tick in (after, upTo]")
    func latest() throws {
        let every = try BeatSchedule(parsing: "every 10s")
        #expect(every.latest(after: 100, upTo: 135) == 130)
        #expect(every.latest(after: 130, upTo: 139) == nil)
        #expect(every.latest(after: 129, upTo: 130) == 130)
        let daily = try BeatSchedule(parsing: "0 3 * * *")
        #expect(iso(daily.latest(after: unix("2026-11-01T03:00:00+00:00"), upTo: unix("2026-11-30T09:00:00+00:00")))
            == "2026-11-30T03:00:00+00:00")
        #expect(daily.latest(after: unix("2026-11-30T03:00:00+00:00"), upTo: unix("2026-11-30T09:00:00+00:00")) == nil)
        let minutely = try BeatSchedule(parsing: "* * * * *")
        #expect(iso(minutely.latest(after: unix("2020-01-01T00:00:00+00:00"), upTo: unix("2026-11-30T09:00:30+00:00")))
            == "2026-11-30T09:00:00+00:00")
        let leap = try BeatSchedule(parsing: "0 0 29 2 *")
        #expect(iso(leap.latest(after: unix("2019-01-01T00:00:00+00:00"), upTo: unix("2026-11-30T00:00:00+00:00")))
            == "2024-02-29T00:00:00+00:00")
    }
}
