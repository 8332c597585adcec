import CivilCalendar
import Testing

@Suite("CivilDate: calendar arithmetic and UTC timestamps")
struct CivilDateTests {
    @Test("days and dates round-trip across eras, leap days and the epoch")
    func roundTrip() {
        for (y, m, d, days) in [(1970, 1, 1, 0), (1969, 12, 31, -1), (2000, 2, 29, 11_016), (1, 1, 1, -719_162), (9999, 12, 31, 2_932_896)] {
            #expect(CivilDate.days(year: y, month: m, day: d) == days)
            let date = CivilDate.date(days: days)
            #expect(date.year == y && date.month == m && date.day == d)
        }
        #expect(CivilDate.weekday(days: 0) == 4)  // Thursday
        #expect(CivilDate.daysIn(month: 2, year: 1900) == 28)
        #expect(CivilDate.daysIn(month: 2, year: 2000) == 29)
        #expect(CivilDate.floorDiv(-1, 86_400) == -1)
        #expect(CivilDate.floorDiv(86_400, 86_400) == 1)
    }

    @Test("isoUTC writes whole seconds, milliseconds or microseconds, before 1970 too")
    func isoUTC() {
        #expect(CivilDate.isoUTC(seconds: 1_796_004_994) == "2026-11-30T02:16:34Z")
        #expect(CivilDate.isoUTC(seconds: 1_796_004_994, fraction: 7, fractionDigits: 3) == "2026-11-30T02:16:34.007Z")
        #expect(CivilDate.isoUTC(seconds: 1_796_004_994, fraction: 908_906, fractionDigits: 6) == "2026-11-30T02:16:34.908906Z")
        #expect(CivilDate.isoUTC(seconds: -1) == "1969-12-31T23:59:59Z")
        #expect(CivilDate.isoUTC(seconds: 0) == "1970-01-01T00:00:00Z")
    }
}
