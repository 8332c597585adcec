public import Postgres

extension DOTTables {
    /// The standard table names and the configured ones, for ``rewrite(_:)``.
    private var renames: [(standard: String, configured: String)] {
        let standard = DOTTables.standard
        return [
            (standard.application, application), (standard.accessToken, accessToken), (standard.refreshToken, refreshToken),
            (standard.idToken, idToken), (standard.grant, grant), (standard.user, user),
        ].filter { $0.0 != $0.1 }
    }

    /// `query` with every whole-word occurrence of one of DOT's standard table names replaced by the
    /// configured table, quoted. Only for oauthq's own static SQL (written against the standard names):
    /// the configured names are validated identifiers and are always quoted, and the binds are kept.
    /// With DOT's own tables the query is returned unchanged.
    func rewrite(_ query: PostgresQuery) -> PostgresQuery {
        PostgresQuery(unsafeSQL: rewrite(sql: query.sql), binds: query.binds)
    }

    /// ``rewrite(_:)`` on SQL text.
    func rewrite(sql: String) -> String {
        let renames = renames
        guard !renames.isEmpty else { return sql }
        var out = ""
        out.reserveCapacity(sql.utf8.count + 64)
        var word = ""
        func flush() {
            if let match = renames.first(where: { $0.standard == word }) {
                out += PostgresQuery.quoteIdentifier(match.configured)
            } else {
                out += word
            }
            word = ""
        }
        for character in sql {
            if character.isASCII && (character.isLetter || character.isNumber || character == "_") {
                word.append(character)
            } else {
                flush()
                out.append(character)
            }
        }
        flush()
        return out
    }
}
