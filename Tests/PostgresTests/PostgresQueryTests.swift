import Foundation
import Postgres
import Testing

@Suite("PostgresQuery, SQLState and PostgresError (no server)")
struct PostgresQueryTests {
    @Test("interpolations become $n parameters with type OIDs; literals stay SQL")
    func interpolation() {
        let id = 42
        let name: String? = nil
        let token = "'; DROP TABLE x; --"
        let blob: [UInt8] = [0, 1, 2]
        let query: PostgresQuery = "SELECT * FROM t WHERE id = \(id) AND name IS NOT DISTINCT FROM \(name) AND token = \(token) AND b = \(blob)"
        #expect(query.sql == "SELECT * FROM t WHERE id = $1 AND name IS NOT DISTINCT FROM $2 AND token = $3 AND b = $4")
        #expect(query.binds.count == 4)
        #expect(query.binds[0].dataType == .int8 && query.binds[0].bytes == Array("42".utf8))
        #expect(query.binds[1].isNull && query.binds[1].dataType == .text)
        #expect(query.binds[2].bytes == Array(token.utf8) && query.binds[2].format == .text)
        #expect(query.binds[3].format == .binary && query.binds[3].dataType == .bytea)
        #expect(query.description == query.sql)
    }

    @Test("identifiers are quoted; unsafeSQL is verbatim")
    func identifiersAndUnsafe() {
        let query: PostgresQuery = "CREATE TABLE \(identifier: "we\"ird") (\(unsafeSQL: "id int"))"
        #expect(query.sql == "CREATE TABLE \"we\"\"ird\" (id int)")
        #expect(query.binds.isEmpty)
        let raw = PostgresQuery(unsafeSQL: "SELECT $1", binds: [PostgresBind(Int32(7))])
        #expect(raw.binds[0].dataType == .int4)
    }

    @Test("SQLState matches in catch clauses and with ==")
    func sqlStateMatching() {
        let error: any Error = PostgresError(.server, sqlState: .uniqueViolation, message: "duplicate key")
        #expect(SQLState.uniqueViolation ~= error)
        #expect(!(SQLState.foreignKeyViolation ~= error))
        do {
            throw error
        } catch SQLState.uniqueViolation {
            // matched
        } catch {
            Issue.record("catch SQLState.uniqueViolation did not match")
        }
        #expect(SQLState(rawValue: "08006").errorClass == "08")
    }

    @Test("isTransient: connection loss, serialization, deadlock, shutdown, class 08")
    func transient() {
        #expect(PostgresError(.connectionLost).isTransient)
        for state: SQLState in [.serializationFailure, .deadlockDetected, .adminShutdown, .crashShutdown, .cannotConnectNow, "08006"] {
            #expect(PostgresError(.server, sqlState: state).isTransient)
        }
        for state: SQLState in [.uniqueViolation, .foreignKeyViolation, .queryCanceled, .syntaxError] {
            #expect(!PostgresError(.server, sqlState: state).isTransient)
        }
        #expect(!PostgresError(.authenticationFailed).isTransient)
        #expect(!PostgresError(.decoding).isTransient)
    }

    @Test("description: no DETAIL, class 22 quotes redacted, one line")
    func redaction() {
        let unique = PostgresError(
            .server, sqlState: .uniqueViolation,
            message: "duplicate key value violates unique constraint \"app_client_id_key\"",
            detail: "Key (client_id)=(secret-client) already exists.", constraint: "app_client_id_key"
        )
        #expect(!unique.description.contains("secret-client"))
        #expect(!unique.debugDescription.contains("secret-client"))
        #expect(unique.description.contains("23505"))
        #expect(unique.description.contains("app_client_id_key"))
        let syntax = PostgresError(.server, sqlState: .invalidTextRepresentation, message: "invalid input syntax for type uuid: \"tok-123\"")
        #expect(!syntax.description.contains("tok-123"))
        #expect(syntax.description.contains("invalid input syntax for type uuid"))
        let multiline = PostgresError(.connectionFailed, message: "a\n\tb")
        #expect(multiline.description == "PostgresError.connectionFailed: a b")
    }
}
