import Foundation
import OAuthMaintenance
import Postgres
import TestSupport

/// What remains in DOT's tables, by id, with the token foreign keys that Django's SET NULL touches.
struct TableSnapshot: Equatable, Sendable {
    /// table name → one line per row, sorted by id.
    var tables: [String: [String]]

    var rowCount: Int { tables.values.reduce(0) { $0 + $1.count } }

    /// The tables compared and what is compared of each row, for DOT's tables or swapped ones.
    static func columns(for names: DOTTables) -> [(table: String, select: String)] {
        [
            (names.accessToken, "id::text || ' ' || coalesce(source_refresh_token_id::text, '-') || ' ' || coalesce(id_token_id::text, '-')"),
            (names.refreshToken, "id::text || ' ' || coalesce(access_token_id::text, '-') || ' ' || coalesce(revoked::text, '-')"),
            (names.idToken, "id::text"),
            (names.grant, "id::text"),
            (names.application, "id::text"),
            ("oauth2_provider_devicegrant", "id::text"),
            (names.user, "id::text"),
        ]
    }

    static func take(_ url: String, tables names: DOTTables = .standard) async throws -> TableSnapshot {
        let connection = try await PostgresConnection.connect(PostgresConfiguration(url: url))
        var tables: [String: [String]] = [:]
        for (table, select) in columns(for: names) {
            let rows = try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT \(select) FROM \(PostgresQuery.quoteIdentifier(table)) ORDER BY id")
            ).rows
            tables[table] = try rows.map { try $0.decode(String.self, column: 0) }
        }
        await connection.close()
        return TableSnapshot(tables: tables)
    }

    /// A short account of what differs, for failure messages.
    func difference(from expected: TableSnapshot) -> String {
        var lines: [String] = []
        for table in tables.keys.sorted() {
            let mine = Set(tables[table] ?? []), theirs = Set(expected.tables[table] ?? [])
            let extra = mine.subtracting(theirs).sorted().prefix(5), missing = theirs.subtracting(mine).sorted().prefix(5)
            if !extra.isEmpty || !missing.isEmpty {
                lines.append("\(table): only oauthq \(Array(extra)), only DOT \(Array(missing))")
            }
        }
        return lines.joined(separator: "; ")
    }
}

/// ISO 8601 with microseconds and an offset, as Python's isoformat() writes it.
enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let whole = formatter.date(from: text) else { return nil }
        // ISO8601DateFormatter keeps milliseconds only: add back the microseconds.
        guard let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { $0 == "+" || $0 == "-" || $0 == "Z" })
        else { return whole }
        let fraction = Double("0" + text[dot..<end]) ?? 0
        let seconds = (whole.timeIntervalSince1970).rounded(.down)
        return Date(timeIntervalSince1970: seconds + fraction)
    }
}
