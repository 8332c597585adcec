/// One value of a result row, as handed to ``PostgresDecodable/decode(from:)``: the server's text-format
/// bytes (or `nil` for SQL NULL), the column's type and where it came from.
public struct PostgresCell: Sendable {
    /// The text-format bytes; `nil` is SQL NULL.
    public let bytes: [UInt8]?
    /// The column's type OID.
    public let dataType: PostgresDataType
    /// The column's name.
    public let columnName: String
    /// The column's index.
    public let columnIndex: Int

    public init(bytes: [UInt8]?, dataType: PostgresDataType, columnName: String, columnIndex: Int) {
        self.bytes = bytes
        self.dataType = dataType
        self.columnName = columnName
        self.columnIndex = columnIndex
    }

    /// Whether the value is SQL NULL.
    public var isNull: Bool { bytes == nil }

    /// The bytes of a non-NULL value.
    /// - Throws: `.decoding` if the value is NULL (decode as an `Optional` to accept NULL).
    public func requireBytes(for type: Any.Type) throws -> [UInt8] {
        guard let bytes else {
            throw PostgresError(
                .decoding,
                message: "column \"\(columnName)\" (index \(columnIndex), \(dataType)) is NULL; "
                    + "decode it as \(type)? to accept NULL"
            )
        }
        return bytes
    }

    /// The value as a UTF-8 string.
    /// - Throws: `.decoding` if it is NULL or not valid UTF-8.
    public func requireText(for type: Any.Type) throws -> String {
        let bytes = try requireBytes(for: type)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw decodingError(type, reason: "invalid UTF-8")
        }
        return text
    }

    /// Throws unless the column's type is one of `types`.
    public func require(_ types: Set<PostgresDataType>, for type: Any.Type) throws {
        guard types.contains(dataType) else {
            throw decodingError(type, reason: "type mismatch")
        }
    }

    /// A `.decoding` error naming the column and the types, never the value.
    public func decodingError(_ type: Any.Type, reason: String) -> PostgresError {
        PostgresError(
            .decoding,
            message: "cannot decode column \"\(columnName)\" (index \(columnIndex), \(dataType)) as \(type): \(reason)"
        )
    }
}
