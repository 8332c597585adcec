import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// The three maintenance commands on a project that swaps all five of DOT's models (each with an extra
/// column) and the user model (`harness/reference/swapproject`, migrated by Django itself): oauthq, told
/// the tables through DOT's setting names (`app_label.Model`, and `db_table:NAME` for the grant model
/// whose `Meta.db_table` is explicit), must leave exactly the rows DOT leaves and print what DOT prints.
@Suite(
    "swapped models: differential against DOT 3.4.1",
    .enabled(if: TestEnvironment.shouldRunPostgres && PythonReference.shouldRun),
    .timeLimit(.minutes(20))
)
struct SwappedModelsDifferentialTests {
    static let now = "2026-11-30T01:56:34.908906+00:00"
    static let django = ["DJANGO_SETTINGS_MODULE": "swapproject.settings"]

    /// What oauthq is told: the same setting names as the project's.
    static let settings = [
        "AUTH_USER_MODEL": "swapapp.Member",
        "OAUTH2_PROVIDER_APPLICATION_MODEL": "swapapp.Client",
        "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL": "swapapp.Access",
        "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL": "swapapp.Refresh",
        "OAUTH2_PROVIDER_ID_TOKEN_MODEL": "swapapp.Identity",
        "OAUTH2_PROVIDER_GRANT_MODEL": "db_table:swap_codes",
    ]

    static let seedTables = """
        {"application": "swapapp_client", "accesstoken": "swapapp_access", "refreshtoken": "swapapp_refresh", \
        "idtoken": "swapapp_identity", "grant": "swap_codes", "user": "swapapp_member"}
        """

    static func tables() throws -> DOTTables { try DOTTables(settings: settings) }

    @Test("the settings name the tables Django made")
    func tableNames() throws {
        let tables = try Self.tables()
        #expect(tables.application == "swapapp_client")
        #expect(tables.accessToken == "swapapp_access")
        #expect(tables.refreshToken == "swapapp_refresh")
        #expect(tables.idToken == "swapapp_identity")
        #expect(tables.grant == "swap_codes")
        #expect(tables.user == "swapapp_member")
        #expect(tables.applicationVerboseName == "Client")
        #expect(DOTTables.verboseName("MyOAuthApplication") == "My o auth application")  // Django: camel_case_to_spaces
        #expect(DOTTables.verboseName("HTTPClient") == "Http client")
        // Django's truncation of a long default name (first 59 characters, then 4 hex digits of its MD5).
        let long = DOTTables.djangoDefaultTable(appLabel: "a_rather_long_application_label", modelName: "AnEvenLongerAccessTokenModelName")
        // Django's own `truncate_name(name, 63)` gives this (checked with the venv's Django 5.2).
        #expect(long == "a_rather_long_application_label_anevenlongeraccesstokenmodea2d1")
    }

    static func migratedTemplate(prefix: String) async throws -> TemporaryDatabase {
        let template = try await TemporaryDatabase.create(prefix: prefix)
        let migrate = try await PythonReference.run(
            "manage.py", ["migrate", "--verbosity", "0"], environment: django.merging(["DATABASE_URL": template.url]) { $1 }
        )
        try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
        return template
    }

    @Test("migrate --check's drift: only harmless differences (extra columns, bigint user keys)")
    func drift() async throws {
        let template = try await Self.migratedTemplate(prefix: "sw_dr")
        do {
            let connection = try await template.connect()
            let report = try await DOTSchema.drift(on: connection, tables: try Self.tables())
            await connection.close()
            #expect(report.blocking.isEmpty, "\(report.blocking.map(\.description))")
            #expect(report.harmless.contains { $0.subject == "column swapapp_client.tenant" })
        } catch {
            try? await template.drop()
            throw error
        }
        try? await template.drop()
    }

    @Test("cleartokens: same rows left as DOT's, walking and by the cleanup indexes")
    func clearTokens() async throws {
        let template = try await Self.migratedTemplate(prefix: "sw_ct")
        do {
            let seed = try await PythonReference.run(
                "seed.py", ["--scenarios", "--boundaries", "--count", "1500", "--seed", "9", "--now", Self.now, "--tables", Self.seedTables],
                environment: ["DATABASE_URL": template.url]
            )
            try #require(seed.status == 0, "seed failed: \(seed.stderr)")
            let tables = try Self.tables()
            let combinations: [[String: String]] = [
                [:], ["REFRESH_TOKEN_EXPIRE_SECONDS": "86400"],
                ["REFRESH_TOKEN_EXPIRE_SECONDS": "3600.5", "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": "3600", "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": "7"],
                ["REFRESH_TOKEN_EXPIRE_SECONDS": "86400", "REFRESH_TOKEN_REUSE_PROTECTION": "true"],
            ]
            for values in combinations {
                let label = values.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
                let dot = try await TemporaryDatabase.create(prefix: "sw_ct_dot", template: template.name)
                let ours = try await TemporaryDatabase.create(prefix: "sw_ct_oq", template: template.name)
                let indexed = try await TemporaryDatabase.create(prefix: "sw_ct_ix", template: template.name)
                do {
                    let reference = try await PythonReference.run(
                        "cleartokens_at.py", ["--now", Self.now],
                        environment: values.merging(Self.django) { $1 }.merging(["DATABASE_URL": dot.url]) { $1 },
                        removing: ClearTokensSettings.Key.allCases.map(\.rawValue).filter { values[$0] == nil }
                    )
                    #expect(reference.status == 0, "DOT failed [\(label)]: \(reference.stderr)")
                    let settings = try ClearTokensSettings(values: values)
                    let connection = try await ours.connect()
                    let summary = try await ClearTokensJob(settings: settings, tables: tables).run(on: connection, now: try #require(ISO8601.parse(Self.now)))
                    await connection.close()
                    let indexConnection = try await indexed.connect()
                    try await DOTSchema.createCleanupIndexes(on: indexConnection, tables: tables)
                    let indexSummary = try await ClearTokensJob(settings: settings, indexedFraction: 1, tables: tables)
                        .run(on: indexConnection, now: try #require(ISO8601.parse(Self.now)))
                    await indexConnection.close()
                    #expect(indexSummary.steps.allSatisfy { $0.skipped || $0.via == "index" }, "[\(label)]")
                    let expected = try await TableSnapshot.take(dot.url, tables: tables)
                    let actual = try await TableSnapshot.take(ours.url, tables: tables)
                    #expect(actual == expected, "remaining rows differ [\(label)]: \(actual.difference(from: expected))")
                    let actualIndexed = try await TableSnapshot.take(indexed.url, tables: tables)
                    #expect(actualIndexed == expected, "by index [\(label)]: \(actualIndexed.difference(from: expected))")
                    #expect(summary.totalDeleted > 500, "[\(label)]")
                } catch {
                    try? await dot.drop(); try? await ours.drop(); try? await indexed.drop()
                    throw error
                }
                try? await dot.drop(); try? await ours.drop(); try? await indexed.drop()
            }
        } catch {
            try? await template.drop()
            throw error
        }
        try? await template.drop()
    }

    @Test("clearcimdapplications: same rows left and the same line as DOT's, for every batch size")
    func clearCIMDApplications() async throws {
        let template = try await ClearCIMDApplicationsDifferentialTests.template(prefix: "sw_cc", environment: Self.django, tables: Self.seedTables)
        do {
            try await ClearCIMDApplicationsDifferentialTests.compareAll(template: template, tables: try Self.tables(), environment: Self.django)
        } catch {
            try? await template.drop()
            throw error
        }
        try? await template.drop()
    }

    @Test("createapplication: the same output and the same row as DOT's, valid and invalid")
    func createApplication() async throws {
        let template = try await Self.migratedTemplate(prefix: "sw_ca")
        do {
            let setup = try await template.connect()
            try await setup.execute(
                """
                INSERT INTO swapapp_member (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
                VALUES ('!', false, 'owner', '', '', '', false, true, now())
                """
            )
            try await setup.execute(
                """
                INSERT INTO swapapp_client (client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name,
                    user_id, skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret,
                    allowed_origins, registration_source, cimd_expires_at)
                VALUES ('taken', '', 'public', 'password', '', 'x', NULL, false, now(), now(), '', '', false, '', 'manual', NULL)
                """
            )
            await setup.close()
            let cases: [(arguments: [String], request: CreateApplicationRequest)] = [
                (
                    ["confidential", "password", "--client-id", "swap-1", "--user", "1", "--name", "Swap", "--client-secret", "plain", "--no-hash-client-secret"],
                    CreateApplicationRequest(
                        clientType: "confidential", authorizationGrantType: "password", clientID: "swap-1", user: "1",
                        clientSecret: "plain", hashClientSecret: false, name: "Swap"
                    )
                ),
                (
                    ["public", "authorization-code", "--client-id", "swap-2", "--redirect-uris", "https://a.example/cb", "--skip-authorization"],
                    CreateApplicationRequest(
                        clientType: "public", authorizationGrantType: "authorization-code", clientID: "swap-2",
                        redirectURIs: "https://a.example/cb", skipAuthorization: true
                    )
                ),
                (
                    ["confidential", "password", "--client-id", "taken", "--user", "999"],
                    CreateApplicationRequest(clientType: "confidential", authorizationGrantType: "password", clientID: "taken", user: "999")
                ),
            ]
            let tables = try Self.tables()
            for (arguments, request) in cases {
                let dot = try await TemporaryDatabase.create(prefix: "sw_ca_dot", template: template.name)
                let ours = try await TemporaryDatabase.create(prefix: "sw_ca_oq", template: template.name)
                do {
                    let reference = try await PythonReference.run(
                        "manage.py", ["createapplication"] + arguments, environment: Self.django.merging(["DATABASE_URL": dot.url]) { $1 }
                    )
                    #expect(reference.status == 0, "DOT failed: \(reference.stderr)")
                    let connection = try await ours.connect()
                    let result = try await CreateApplicationJob().run(request, on: connection, tables: tables)
                    await connection.close()
                    // A generated secret is random: compare its shape, and the rows without it.
                    let generated = arguments.contains("--client-secret") ? nil : "client_secret: "
                    #expect(Self.masked(result.outputLines.joined(separator: "\n") + "\n", generated) == Self.masked(reference.stdout, generated), "\(arguments)")
                    #expect(try await Self.applications(dot, masking: generated != nil) == Self.applications(ours, masking: generated != nil), "\(arguments)")
                } catch {
                    try? await dot.drop(); try? await ours.drop()
                    throw error
                }
                try? await dot.drop(); try? await ours.drop()
            }
        } catch {
            try? await template.drop()
            throw error
        }
        try? await template.drop()
    }

    /// stdout with a generated secret's 128 characters replaced by their count.
    static func masked(_ output: String, _ prefix: String?) -> String {
        guard let prefix else { return output }
        return output.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(prefix) ? "\(prefix)<\(line.count - prefix.count) characters>" : String(line)
        }.joined(separator: "\n")
    }

    /// Every application row but its timestamps, with the extra column (filled by its database default).
    static func applications(_ database: TemporaryDatabase, masking: Bool) async throws -> [String] {
        let connection = try await database.connect()
        let secret = masking ? "split_part(client_secret, '$', 1)" : "client_secret"
        let rows = try await connection.query(
            """
            SELECT concat_ws('|', id, client_id, redirect_uris, client_type, authorization_grant_type, \(unsafeSQL: secret), name,
                   coalesce(user_id::text, '-'), skip_authorization, algorithm, post_logout_redirect_uris, hash_client_secret,
                   allowed_origins, registration_source, coalesce(cimd_expires_at::text, '-'), tenant)
            FROM swapapp_client ORDER BY id
            """
        ).rows.map { try $0.decode(String.self, column: 0) }
        await connection.close()
        return rows
    }
}
