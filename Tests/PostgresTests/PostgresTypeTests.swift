import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Type round-trips through the server", .enabled(if: TestEnvironment.shouldRunPostgres))
struct PostgresTypeTests {
    /// Sends `value` as a parameter, has the server echo it through `sqlType`, decodes it back.
    func echo<T: PostgresEncodable & PostgresDecodable>(_ value: T, as sqlType: String, on connection: PostgresConnection) async throws -> T {
        try await connection.query("SELECT \(value)::\(unsafeSQL: sqlType)").rows[0].decode(T.self, column: 0)
    }

    @Test("String, unicode and the empty string")
    func strings() async throws {
        let connection = try await PG.connect()
        for value in ["", "plain", "héllo wörld — ñ 中文 🌍👩‍👩‍👧", "quote ' and \" and \\ and $1", String(repeating: "x", count: 5000)] {
            #expect(try await echo(value, as: "text", on: connection) == value)
        }
        let server = try await connection.query("SELECT 'naïve ☕'::text").rows[0].decode(String.self, column: 0)
        #expect(server == "naïve ☕")
    }

    @Test("integers, bool, double, including limits and special values")
    func scalars() async throws {
        let connection = try await PG.connect()
        for value in [Int.min, -1, 0, 1, Int.max] {
            #expect(try await echo(value, as: "int8", on: connection) == value)
        }
        for value in [Int64.min, 0, Int64.max] {
            #expect(try await echo(value, as: "int8", on: connection) == value)
        }
        for value in [Int32.min, 0, Int32.max] {
            #expect(try await echo(value, as: "int4", on: connection) == value)
        }
        #expect(try await echo(true, as: "bool", on: connection) == true)
        #expect(try await echo(false, as: "bool", on: connection) == false)
        for value in [0.0, -0.5, 0.1, 1.0 / 3.0, 1e-300, Double.leastNonzeroMagnitude, Double.greatestFiniteMagnitude, .infinity, -.infinity] {
            #expect(try await echo(value, as: "float8", on: connection) == value)
        }
        #expect(try await echo(Double.nan, as: "float8", on: connection).isNaN)
        #expect(try await connection.query("SELECT 12.5::numeric").rows[0].decode(Double.self, column: 0) == 12.5)
    }

    @Test("UUID, both directions")
    func uuid() async throws {
        let connection = try await PG.connect()
        let id = UUID()
        #expect(try await echo(id, as: "uuid", on: connection) == id)
        let text = try await connection.query("SELECT \(id)::text").rows[0].decode(String.self, column: 0)
        #expect(text == id.uuidString.lowercased())
        let generated = try await connection.query("SELECT gen_random_uuid()").rows[0].decode(UUID.self, column: 0)
        #expect(generated != id)
    }

    @Test("bytea: NUL bytes, every byte value, empty")
    func bytea() async throws {
        let connection = try await PG.connect()
        let withNULs: [UInt8] = [0, 0, 1, 0, 255, 0]
        #expect(try await echo(withNULs, as: "bytea", on: connection) == withNULs)
        let everyByte = (0...255).map(UInt8.init)
        #expect(try await echo(everyByte, as: "bytea", on: connection) == everyByte)
        #expect(try await echo([UInt8](), as: "bytea", on: connection) == [])
        #expect(try await echo(Data(withNULs), as: "bytea", on: connection) == Data(withNULs))
        let length = try await connection.query("SELECT length(\(withNULs))").rows[0].decode(Int.self, column: 0)
        #expect(length == 6)
    }

    @Test("a 10 MB bytea and a 10 MB text value, stored and read back")
    func largeValues() async throws {
        let connection = try await PG.connect()
        try await connection.execute("CREATE TEMP TABLE big (b bytea, t text)")
        var generator = SystemRandomNumberGenerator()
        var blob = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
        blob.withUnsafeMutableBytes { raw in
            for offset in stride(from: 0, to: raw.count, by: 8) {
                raw.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self)
            }
        }
        let text = String(repeating: "ab€", count: 10 * 1024 * 1024 / 5)
        try await connection.execute("INSERT INTO big VALUES (\(blob), \(text))")
        let row = try await connection.query("SELECT b, t, length(b), md5(b) = md5(\(blob)) FROM big").rows[0]
        #expect(try row.decode([UInt8].self, column: 0) == blob)
        #expect(try row.decode(String.self, column: 1) == text)
        #expect(try row.decode(Int.self, column: 2) == blob.count)
        #expect(try row.decode(Bool.self, column: 3))
    }

    @Test("timestamptz: whole microseconds round-trip exactly; the server reads the instant right")
    func timestamps() async throws {
        let connection = try await PG.connect()
        let microsecondsSince2001: [Int64] = [
            0, 1, -1, 999_999, 1_000_001, 757_382_400_123_456,  // 2025-01-01 00:00:00.123456
            -978_307_200_000_000,  // 1970-01-01
            -978_307_200_000_001,  // just before 1970
            -31_556_889_600_000_000,  // around year 1001
            3_124_137_599_999_999,  // 2099-12-31 23:59:59.999999
        ]
        for micros in microsecondsSince2001 {
            let date = Date(timeIntervalSinceReferenceDate: Double(micros) / 1_000_000)
            let back = try await echo(date, as: "timestamptz", on: connection)
            #expect(back == date)
            #expect((back.timeIntervalSinceReferenceDate * 1_000_000).rounded() == Double(micros))
            // The server agrees on the instant, to the microsecond.
            let epoch = try await connection.query(
                "SELECT (extract(epoch FROM \(date)) * 1000000)::int8"
            ).rows[0].decode(Int64.self, column: 0)
            #expect(epoch == micros + 978_307_200_000_000)
        }
        let fixed = try await connection.query("SELECT '2024-02-29 13:34:56.789012+01'::timestamptz").rows[0].decode(Date.self, column: 0)
        #expect(fixed == Date(timeIntervalSince1970: 1_709_210_096) + 0.789012)
        let text = try await connection.query("SELECT \(fixed)::text").rows[0].decode(String.self, column: 0)
        #expect(text == "2024-02-29 12:34:56.789012+00")
        let plainTimestamp = try await connection.query("SELECT '2024-02-29 12:34:56'::timestamp").rows[0].decode(Date.self, column: 0)
        #expect(plainTimestamp == Date(timeIntervalSince1970: 1_709_210_096))
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("SELECT 'infinity'::timestamptz").rows[0].decode(Date.self, column: 0)
        }
        #expect(error?.code == .decoding)
    }

    struct Metadata: Codable, Equatable {
        var name: String
        var scopes: [String]
        var count: Int
    }

    @Test("jsonb and json through PostgresJSON")
    func json() async throws {
        let connection = try await PG.connect()
        let value = Metadata(name: "app ☕ \"quoted\"", scopes: ["read", "write"], count: 3)
        let json = try PostgresJSON(encoding: value)
        let back = try await echo(json, as: "jsonb", on: connection)
        #expect(try back.decode(Metadata.self) == value)
        #expect(back.dataType == .jsonb)
        let name = try await connection.query("SELECT \(json) ->> 'name'").rows[0].decode(String.self, column: 0)
        #expect(name == value.name)
        let plain = PostgresJSON(text: #"{"b": 1, "a": [true, null]}"#, dataType: .json)
        let plainBack = try await echo(plain, as: "json", on: connection)
        #expect(plainBack.text == plain.text)  // json keeps the text as given
        #expect(plainBack.dataType == .json)
        let invalid = PostgresJSON(text: "{not json")
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT \(invalid)") }
        #expect(error?.sqlState == .invalidTextRepresentation)
    }

    @Test("NULLs: optionals of every type bind as NULL and decode as nil")
    func nulls() async throws {
        let connection = try await PG.connect()
        let row = try await connection.query(
            """
            SELECT \(nil as String?), \(nil as Int?), \(nil as Int32?), \(nil as Int64?), \(nil as Bool?), \
            \(nil as Double?), \(nil as Date?), \(nil as UUID?), \(nil as [UInt8]?), \(nil as PostgresJSON?)
            """
        ).rows[0]
        #expect(try row.decode(String?.self, column: 0) == nil)
        #expect(try row.decode(Int?.self, column: 1) == nil)
        #expect(try row.decode(Int32?.self, column: 2) == nil)
        #expect(try row.decode(Int64?.self, column: 3) == nil)
        #expect(try row.decode(Bool?.self, column: 4) == nil)
        #expect(try row.decode(Double?.self, column: 5) == nil)
        #expect(try row.decode(Date?.self, column: 6) == nil)
        #expect(try row.decode(UUID?.self, column: 7) == nil)
        #expect(try row.decode([UInt8]?.self, column: 8) == nil)
        #expect(try row.decode(PostgresJSON?.self, column: 9) == nil)
        let some: Int? = 5
        #expect(try await connection.query("SELECT \(some)").rows[0].decode(Int?.self, column: 0) == 5)
        // Typed NULL parameters let the server infer types where an untyped NULL would be ambiguous.
        #expect(try await connection.query("SELECT \(nil as Date?) IS NULL").rows[0].decode(Bool.self, column: 0))
    }

    @Test("decoding errors: NULL into non-optional, wrong type, out of range, missing column")
    func decodingErrors() async throws {
        let connection = try await PG.connect()
        let row = try await connection.query("SELECT NULL::text AS token, 'abc'::text AS name, 3000000000::int8 AS big").rows[0]
        let null = #expect(throws: PostgresError.self) { try row.decode(String.self, column: "token") }
        #expect(null?.code == .decoding)
        #expect(null?.message?.contains("\"token\"") == true)
        #expect(null?.message?.contains("NULL") == true)
        let wrongType = #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "name") }
        #expect(wrongType?.code == .decoding)
        #expect(wrongType?.message?.contains("abc") == false)
        let range = #expect(throws: PostgresError.self) { try row.decode(Int32.self, column: "big") }
        #expect(range?.code == .decoding)
        #expect(try row.decode(Int.self, column: "big") == 3_000_000_000)
        let missing = #expect(throws: PostgresError.self) { try row.decode(Int.self, column: "nope") }
        #expect(missing?.code == .decoding)
        #expect(throws: PostgresError.self) { try row.decode(Int.self, column: 7) }
    }
}
