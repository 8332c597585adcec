public import Foundation

/// A Swift value that can be sent as a statement parameter.
///
/// Conforming types: `String`, `Int`, `Int32`, `Int64`, `Bool`, `Double`, `Date` (timestamptz), `UUID`,
/// `[UInt8]` and `Data` (bytea, sent in binary), ``PostgresJSON`` (jsonb/json), and `Optional` of any of them
/// (`nil` is SQL NULL).
public protocol PostgresEncodable: Sendable {
    /// The type OID sent with the parameter (also for `nil` optionals).
    static var postgresDataType: PostgresDataType { get }
    /// The encoded parameter.
    var postgresBind: PostgresBind { get }
}

/// A Swift value that can be decoded from a result column (text format).
///
/// `Optional<T>` decodes SQL NULL as `nil`; any other type throws `.decoding` for NULL.
public protocol PostgresDecodable: Sendable {
    /// Decodes the value of one cell.
    /// - Throws: ``PostgresError`` with code `.decoding`.
    static func decode(from cell: PostgresCell) throws -> Self
}

/// Both directions.
public typealias PostgresCodable = PostgresEncodable & PostgresDecodable

// MARK: - Optional

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { Wrapped.postgresDataType }
    public var postgresBind: PostgresBind {
        switch self {
        case .some(let value): value.postgresBind
        case .none: .null(Wrapped.postgresDataType)
        }
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Self {
        cell.isNull ? nil : try Wrapped.decode(from: cell)
    }
}

// MARK: - String

extension String: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .text }
    public var postgresBind: PostgresBind { PostgresBind(text: self, dataType: .text) }

    /// Any column decodes as its text representation (bytea as `\x…` hex).
    public static func decode(from cell: PostgresCell) throws -> String {
        try cell.requireText(for: String.self)
    }
}

// MARK: - Integers

private let integerTypes: Set<PostgresDataType> = [.int2, .int4, .int8, .oid]

extension Int64: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public var postgresBind: PostgresBind { PostgresBind(text: String(self), dataType: .int8) }
    public static func decode(from cell: PostgresCell) throws -> Int64 {
        try cell.require(integerTypes, for: Int64.self)
        guard let value = Int64(try cell.requireText(for: Int64.self)) else {
            throw cell.decodingError(Int64.self, reason: "not an integer")
        }
        return value
    }
}

extension Int: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public var postgresBind: PostgresBind { PostgresBind(text: String(self), dataType: .int8) }
    public static func decode(from cell: PostgresCell) throws -> Int {
        guard let value = Int(exactly: try Int64.decode(from: cell)) else {
            throw cell.decodingError(Int.self, reason: "out of range")
        }
        return value
    }
}

extension Int32: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .int4 }
    public var postgresBind: PostgresBind { PostgresBind(text: String(self), dataType: .int4) }
    public static func decode(from cell: PostgresCell) throws -> Int32 {
        guard let value = Int32(exactly: try Int64.decode(from: cell)) else {
            throw cell.decodingError(Int32.self, reason: "out of range")
        }
        return value
    }
}

// MARK: - Bool

extension Bool: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .bool }
    public var postgresBind: PostgresBind { PostgresBind(text: self ? "t" : "f", dataType: .bool) }
    public static func decode(from cell: PostgresCell) throws -> Bool {
        try cell.require([.bool], for: Bool.self)
        switch try cell.requireBytes(for: Bool.self) {
        case [UInt8(ascii: "t")]: return true
        case [UInt8(ascii: "f")]: return false
        default: throw cell.decodingError(Bool.self, reason: "not t or f")
        }
    }
}

// MARK: - Double

extension Double: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .float8 }
    public var postgresBind: PostgresBind {
        let text: String =
            if isNaN { "NaN" } else if self == .infinity { "Infinity" } else if self == -.infinity { "-Infinity" } else {
                // Swift prints the shortest representation that round-trips; float8in parses it exactly.
                description
            }
        return PostgresBind(text: text, dataType: .float8)
    }

    /// Decodes float4, float8, numeric and integer columns.
    public static func decode(from cell: PostgresCell) throws -> Double {
        try cell.require([.float4, .float8, .numeric, .int2, .int4, .int8], for: Double.self)
        let text = try cell.requireText(for: Double.self)
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let value = Double(text) else { throw cell.decodingError(Double.self, reason: "not a number") }
            return value
        }
    }
}

// MARK: - UUID

extension UUID: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .uuid }
    public var postgresBind: PostgresBind { PostgresBind(text: uuidString, dataType: .uuid) }
    public static func decode(from cell: PostgresCell) throws -> UUID {
        try cell.require([.uuid, .text, .varchar, .bpchar], for: UUID.self)
        guard let value = UUID(uuidString: try cell.requireText(for: UUID.self)) else {
            throw cell.decodingError(UUID.self, reason: "not a UUID")
        }
        return value
    }
}

// MARK: - bytea

extension Array: PostgresEncodable where Element == UInt8 {
    public static var postgresDataType: PostgresDataType { .bytea }
    /// Sent in binary format: any bytes, NUL included.
    public var postgresBind: PostgresBind { PostgresBind(bytes: self, dataType: .bytea, format: .binary) }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// Decodes a bytea column from its `\x` hex text form.
    public static func decode(from cell: PostgresCell) throws -> [UInt8] {
        try cell.require([.bytea], for: [UInt8].self)
        let hex = try cell.requireBytes(for: [UInt8].self)
        guard hex.count >= 2, hex[0] == UInt8(ascii: "\\"), hex[1] == UInt8(ascii: "x"), hex.count % 2 == 0 else {
            throw cell.decodingError([UInt8].self, reason: "not in hex format (bytea_output must be 'hex')")
        }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var result = [UInt8](repeating: 0, count: (hex.count - 2) / 2)
        var invalid = false
        hex.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                var i = 2
                for index in target.indices {
                    guard let high = nibble(source[i]), let low = nibble(source[i + 1]) else {
                        invalid = true
                        return
                    }
                    target[index] = high << 4 | low
                    i += 2
                }
            }
        }
        if invalid { throw cell.decodingError([UInt8].self, reason: "invalid hex digit") }
        return result
    }
}

extension Data: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .bytea }
    public var postgresBind: PostgresBind { PostgresBind(bytes: [UInt8](self), dataType: .bytea, format: .binary) }
    public static func decode(from cell: PostgresCell) throws -> Data {
        Data(try [UInt8].decode(from: cell))
    }
}

// MARK: - Date

extension Date: PostgresCodable {
    public static var postgresDataType: PostgresDataType { .timestamptz }

    /// Sent as timestamptz text in UTC, rounded to the microsecond (PostgreSQL's precision).
    public var postgresBind: PostgresBind {
        PostgresBind(text: PostgresTimestamp.format(microsecondsSince1970: PostgresTimestamp.microseconds(of: self)), dataType: .timestamptz)
    }

    /// Decodes timestamptz, timestamp (read as UTC) and date (midnight UTC) columns. Whole microseconds
    /// round-trip exactly. `infinity`/`-infinity` throw.
    public static func decode(from cell: PostgresCell) throws -> Date {
        try cell.require([.timestamptz, .timestamp, .date], for: Date.self)
        guard let micros = PostgresTimestamp.parse(try cell.requireText(for: Date.self)) else {
            throw cell.decodingError(Date.self, reason: "not a finite ISO timestamp")
        }
        return PostgresTimestamp.date(microsecondsSince1970: micros)
    }
}

// MARK: - JSON

/// A json or jsonb value, carried as its JSON text.
///
/// ```swift
/// try connection.execute("UPDATE t SET meta = \(try PostgresJSON(encoding: meta))")
/// let meta = try row.decode(PostgresJSON.self, column: "meta").decode(Meta.self)
/// ```
public struct PostgresJSON: PostgresCodable, Hashable {
    /// The JSON text.
    public var text: String
    /// `.jsonb` (default) or `.json`.
    public var dataType: PostgresDataType

    /// Wraps JSON text (not validated here; the server rejects invalid JSON).
    public init(text: String, dataType: PostgresDataType = .jsonb) {
        self.text = text
        self.dataType = dataType
    }

    /// Encodes a value with `JSONEncoder`.
    public init(encoding value: some Encodable, encoder: JSONEncoder = JSONEncoder(), dataType: PostgresDataType = .jsonb) throws {
        self.init(text: String(decoding: try encoder.encode(value), as: UTF8.self), dataType: dataType)
    }

    /// Decodes the JSON text with `JSONDecoder`.
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(type, from: Data(text.utf8))
    }

    public static var postgresDataType: PostgresDataType { .jsonb }
    public var postgresBind: PostgresBind { PostgresBind(text: text, dataType: dataType) }

    /// Decodes json, jsonb and text columns.
    public static func decode(from cell: PostgresCell) throws -> PostgresJSON {
        try cell.require([.jsonb, .json, .text], for: PostgresJSON.self)
        return PostgresJSON(text: try cell.requireText(for: PostgresJSON.self), dataType: cell.dataType == .json ? .json : .jsonb)
    }
}
