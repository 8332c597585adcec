import Foundation
import Postgres
import Testing

@Suite("Date and bind encoding (no server)")
struct PostgresTimestampUnitTests {
    @Test("Date binds as UTC timestamptz text with microseconds")
    func format() {
        let date = Date(timeIntervalSince1970: 1_709_210_096) + 0.789012
        #expect(PostgresBind(date).bytes == Array("2024-02-29 12:34:56.789012+00".utf8))
        #expect(PostgresBind(date).dataType == .timestamptz)
        #expect(PostgresBind(Date(timeIntervalSince1970: -0.000001)).bytes == Array("1969-12-31 23:59:59.999999+00".utf8))
        #expect(PostgresBind(Date(timeIntervalSince1970: 0)).bytes == Array("1970-01-01 00:00:00.000000+00".utf8))
        // 0001-01-01 minus one day is 1 BC (year 0 in proleptic Gregorian).
        #expect(PostgresBind(Date(timeIntervalSince1970: -62_135_596_800 - 86_400)).bytes == Array("0001-12-31 00:00:00.000000+00 BC".utf8))
    }

    @Test("Date decodes ISO output with offsets, fractions, BC; rejects infinity")
    func parse() throws {
        func decode(_ text: String, _ type: PostgresDataType = .timestamptz) throws -> Date {
            try Date.decode(from: PostgresCell(bytes: Array(text.utf8), dataType: type, columnName: "c", columnIndex: 0))
        }
        let expected = Date(timeIntervalSince1970: 1_709_210_096)
        #expect(try decode("2024-02-29 12:34:56+00") == expected)
        #expect(try decode("2024-02-29 14:34:56+02") == expected)
        #expect(try decode("2024-02-29 07:04:56-05:30") == expected)
        #expect(try decode("2024-02-29 12:34:56.5+00") == expected + 0.5)
        #expect(try decode("2024-02-29 12:34:56", .timestamp) == expected)
        #expect(try decode("2024-02-29", .date) == Date(timeIntervalSince1970: 1_709_164_800))
        #expect(try decode("0001-12-31 00:00:00+00 BC") == Date(timeIntervalSince1970: -62_135_596_800 - 86_400))
        for bad in ["infinity", "-infinity", "2024-02-29 12:34", "2024-13-01", "x"] {
            #expect(throws: PostgresError.self) { try decode(bad) }
        }
    }

    @Test("Double binds in shortest round-trip form; specials spelled the PostgreSQL way")
    func doubles() {
        #expect(PostgresBind(0.1).bytes == Array("0.1".utf8))
        #expect(PostgresBind(Double.infinity).bytes == Array("Infinity".utf8))
        #expect(PostgresBind(-Double.infinity).bytes == Array("-Infinity".utf8))
        #expect(PostgresBind(Double.nan).bytes == Array("NaN".utf8))
    }
}
