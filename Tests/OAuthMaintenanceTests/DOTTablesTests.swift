import Postgres
import Testing

@testable import OAuthMaintenance

@Suite("swapped-model settings: table names")
struct DOTTablesTests {
    @Test("absent or empty settings keep DOT's tables")
    func defaults() throws {
        #expect(try DOTTables(settings: [:]) == .standard)
        #expect(try DOTTables(settings: ["AUTH_USER_MODEL": ""]).isStandard)
        #expect(try DOTTables(settings: ["OAUTH2_PROVIDER_APPLICATION_MODEL": "oauth2_provider.Application"]).isStandard)
    }

    @Test("app_label.Model gives Django's default table; db_table:NAME names it explicitly")
    func forms() throws {
        let tables = try DOTTables(settings: [
            "OAUTH2_PROVIDER_APPLICATION_MODEL": "accounts.OAuthClient",
            "OAUTH2_PROVIDER_GRANT_MODEL": "db_table:legacy grants",
            "AUTH_USER_MODEL": "people.Person",
        ])
        #expect(tables.application == "accounts_oauthclient")
        #expect(tables.applicationVerboseName == "O auth client")
        #expect(tables.grant == "legacy grants")
        #expect(tables.user == "people_person")
        #expect(tables.accessToken == "oauth2_provider_accesstoken")
    }

    @Test(
        "malformed settings are refused with one line naming the setting",
        arguments: ["accounts", "a.b.c", ".Model", "app.", "app.Mo-del", "app.Módel", "db_table:", "1app.Model"]
    )
    func malformed(value: String) {
        let error = #expect(throws: DOTTables.ConfigurationError.self) {
            try DOTTables(settings: ["OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL": value])
        }
        #expect(error?.description.hasPrefix("OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL ") == true)
    }

    @Test("two models on one table are refused (the schema check would otherwise trap on the duplicate name)")
    func sameTable() {
        let error = #expect(throws: DOTTables.ConfigurationError.self) {
            try DOTTables(settings: ["OAUTH2_PROVIDER_GRANT_MODEL": "db_table:x", "OAUTH2_PROVIDER_ID_TOKEN_MODEL": "db_table:x"])
        }
        #expect(error?.description.contains("same table") == true)
        #expect(throws: DOTTables.ConfigurationError.self) {
            try DOTTables(settings: ["OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL": "db_table:oauth2_provider_grant"])
        }
    }

    @Test("overlong values are refused before they are parsed")
    func overlong() {
        let error = #expect(throws: DOTTables.ConfigurationError.self) {
            try DOTTables(settings: ["AUTH_USER_MODEL": String(repeating: "a", count: 10_000) + ".User"])
        }
        #expect(error?.description == "AUTH_USER_MODEL is too long (at most 300 bytes)")
        #expect(throws: DOTTables.ConfigurationError.self) {
            try DOTTables(settings: ["AUTH_USER_MODEL": "db_table:" + String(repeating: "t", count: 64)])
        }
    }

    @Test("static SQL is rewritten whole word by whole word, quoted, binds kept")
    func rewrite() throws {
        let tables = try DOTTables(settings: [
            "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL": "app.Refresh", "OAUTH2_PROVIDER_GRANT_MODEL": #"db_table:we"ird"#,
        ])
        let query: PostgresQuery = """
            SELECT rt.id FROM oauth2_provider_refreshtoken rt, oauth2_provider_grant g, oauth2_provider_refreshtoken_x x
            WHERE rt.id = \(Int64(5)) AND 'oauth2_provider_refreshtoken'::regclass IS NOT NULL
            """
        let rewritten = tables.rewrite(query)
        #expect(
            rewritten.sql == """
                SELECT rt.id FROM "app_refresh" rt, "we""ird" g, oauth2_provider_refreshtoken_x x
                WHERE rt.id = $1 AND '"app_refresh"'::regclass IS NOT NULL
                """
        )
        #expect(rewritten.binds.count == 1)
        #expect(DOTTables.standard.rewrite(query).sql == query.sql)
    }
}
