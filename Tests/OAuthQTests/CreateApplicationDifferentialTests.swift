import Foundation
import OAuthMaintenance
import Postgres
import Testing
import TestSupport

/// `oauthq createapplication` against DOT 3.4.1's own `manage.py createapplication`, case by case: the
/// same arguments and settings on two databases cloned from one Django-migrated template; stdout compared
/// line by line (generated values masked), the written rows column by column, and every application oauthq
/// wrote checked by DOT itself (`dot_check.py`: `check_password` and `full_clean()`).
///
/// Needs `.venv` (scripts/python-env.sh). Skipped locally without it; under `CI` it fails instead.
@Suite(
    "createapplication: oauthq vs DOT 3.4.1",
    .enabled(if: TestEnvironment.shouldRunPostgres),
    .enabled(if: DjangoReference.isAvailable || TestEnvironment.isCI, "no .venv/bin/python: run scripts/python-env.sh"),
    .djangoTemplateDatabase
)
struct CreateApplicationDifferentialTests {
    @Test("same stdout, same row, DOT accepts oauthq's row", arguments: DifferentialCase.all)
    func differential(_ testCase: DifferentialCase) async throws {
        try #require(DjangoReference.isAvailable, "no .venv/bin/python: run scripts/python-env.sh")
        let binary = RepositoryPaths.oauthqBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build first: swift build --build-tests")
        let template = try #require(DjangoTemplateDatabase.name, "the template trait did not run")

        let dotDatabase = try await TemporaryDatabase.create(prefix: "oauthq_diff_dot", template: template)
        let oauthqDatabase = try await TemporaryDatabase.create(prefix: "oauthq_diff_q", template: template)
        do {
            let dot = try await ProcessRunner.output(
                RepositoryPaths.venvPython, [RepositoryPaths.reference("manage.py").path, "createapplication"] + testCase.arguments,
                environment: testCase.childEnvironment.merging(["DATABASE_URL": dotDatabase.url]) { $1 })
            let ours = try await ProcessRunner.output(
                binary, ["createapplication"] + testCase.arguments,
                environment: testCase.childEnvironment.merging(["DATABASE_URL": oauthqDatabase.url]) { $1 })
            try await compare(testCase, dot: dot, ours: ours, dotDatabase: dotDatabase, oauthqDatabase: oauthqDatabase)
        } catch {
            try? await dotDatabase.drop()
            try? await oauthqDatabase.drop()
            throw error
        }
        try await dotDatabase.drop()
        try await oauthqDatabase.drop()
    }

    func compare(
        _ testCase: DifferentialCase, dot: ProcessOutput, ours: ProcessOutput,
        dotDatabase: TemporaryDatabase, oauthqDatabase: TemporaryDatabase
    ) async throws {
        // Exit statuses: DOT 0 either way; oauthq 1 on validation errors (the documented deviation).
        #expect(dot.status == 0, "DOT stderr: \(dot.stderr)")
        #expect(ours.status == (testCase.valid ? 0 : 1), "oauthq stderr: \(ours.stderr)")
        #expect(ours.stderr.isEmpty, "oauthq stderr: \(ours.stderr)")

        let dotRows = try await ApplicationRows.fetch(dotDatabase)
        let ourRows = try await ApplicationRows.fetch(oauthqDatabase)
        #expect(dotRows.count == (testCase.valid ? 1 : 0), "DOT stdout: \(dot.stdout)")
        #expect(ourRows.count == dotRows.count, "oauthq stdout: \(ours.stdout)")

        // stdout, with the generated client id and secret masked.
        let dotOut = Self.masked(dot.stdout, generatedClientID: testCase.generatesClientID ? (dotRows.first?["client_id"] ?? nil) : nil)
        let ourOut = Self.masked(ours.stdout, generatedClientID: testCase.generatesClientID ? (ourRows.first?["client_id"] ?? nil) : nil)
        #expect(ourOut == dotOut)
        #expect(dotOut.first?.hasPrefix(testCase.valid ? "New application " : "Please correct the following errors:") == true)

        guard let dotRow = dotRows.first, let ourRow = ourRows.first else { return }
        // Rows: every column but id, created, updated; generated values and hash salts compared by shape.
        for column in ApplicationRows.compared {
            #expect(
                testCase.canonical(column, ourRow[column] ?? nil) == testCase.canonical(column, dotRow[column] ?? nil),
                "column \(column)")
        }
        for row in [dotRow, ourRow] {
            let created = try #require(row["created"] ?? nil)
            let updated = try #require(row["updated"] ?? nil)
            #expect(updated >= created)
        }

        // DOT itself on oauthq's row: the secret it printed (or was given) checks, full_clean() passes.
        let secret = try #require(testCase.givenSecret ?? Self.printedSecret(ours.stdout), "no secret to check")
        let check = try await ProcessRunner.output(
            RepositoryPaths.venvPython,
            [RepositoryPaths.reference("dot_check.py").path, try #require(ourRow["id"] ?? nil), "-"],
            environment: testCase.childEnvironment.merging(["DATABASE_URL": oauthqDatabase.url]) { $1 }, input: secret + "\n")
        #expect(check.status == 0, "dot_check stderr: \(check.stderr)")
        #expect(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"check_password": true, "full_clean": "ok"}"#)
    }

    /// stdout lines with `client_secret: <128 alphanumerics>` and the generated client id masked.
    static func masked(_ stdout: String, generatedClientID: String?) -> [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var line = String(line)
            if line.hasPrefix("client_secret: "), DifferentialCase.isAlphanumeric(line.dropFirst(15), count: 128) {
                line = "client_secret: <generated>"
            }
            if let generatedClientID, DifferentialCase.isAlphanumeric(generatedClientID, count: 40) {
                line = line.replacing(generatedClientID, with: "<generated client id>")
            }
            return line
        }
    }

    static func printedSecret(_ stdout: String) -> String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("client_secret: ") }.map { String($0.dropFirst(15)) }
    }
}

// MARK: - Cases

struct DifferentialCase: Sendable, CustomTestStringConvertible {
    let label: String
    let arguments: [String]
    var environment: [String: String] = [:]
    /// Whether DOT accepts it (asserted on both sides).
    let valid: Bool

    var testDescription: String { label }

    /// Every setting either side reads, at its default (an empty value counts as unset on both sides,
    /// except the scheme list, which Django would read as empty), so the parent's environment cannot leak
    /// in; then the case's own settings.
    var childEnvironment: [String: String] {
        [
            "ALLOWED_REDIRECT_URI_SCHEMES": "http https", "ALLOW_URI_WILDCARDS": "", "OIDC_RSA_PRIVATE_KEY": "",
            "CLIENT_SECRET_GENERATOR_LENGTH": "", "OAUTHQ_PBKDF2_ITERATIONS": "",
        ].merging(environment) { $1 }
    }

    func option(_ name: String) -> String? {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
        return arguments[index + 1]
    }

    var generatesClientID: Bool { (option("--client-id") ?? "").isEmpty }
    var givenSecret: String? { option("--client-secret").flatMap { $0.isEmpty ? nil : $0 } }

    /// A column value with what is random on each run replaced by its shape.
    func canonical(_ column: String, _ value: String?) -> String? {
        guard let value else { return nil }
        if column == "client_id" && generatesClientID {
            return Self.isAlphanumeric(value, count: 40) ? "<40 alphanumerics>" : value
        }
        if column == "client_secret" {
            if givenSecret == nil && Self.isAlphanumeric(value, count: 128) { return "<128 alphanumerics>" }
            let parts = value.split(separator: "$", omittingEmptySubsequences: false)
            if value != givenSecret, parts.count == 4, parts[0] == "pbkdf2_sha256", Self.isAlphanumeric(parts[2], count: 22),
                parts[3].count == 44
            {
                return "pbkdf2_sha256$\(parts[1])$<salt>$<hash>"
            }
        }
        return value
    }

    static func isAlphanumeric(_ text: some StringProtocol, count: Int) -> Bool {
        text.count == count && text.unicodeScalars.allSatisfy { $0.isASCII && CharacterSet.alphanumerics.contains($0) }
    }

    static let rsaKey = ["OIDC_RSA_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnot-read-by-createapplication\n-----END RSA PRIVATE KEY-----"]

    static let all: [DifferentialCase] = [
        // accepted
        DifferentialCase(
            label: "name, two redirect URIs, generated id and secret",
            arguments: ["confidential", "authorization-code", "--redirect-uris", "https://example.com/cb https://example.com/cb2", "--name", "My App"],
            valid: true),
        DifferentialCase(label: "public client-credentials: a hashed secret too", arguments: ["public", "client-credentials"], valid: true),
        DifferentialCase(
            label: "given id and secret, user 1, skip authorization",
            arguments: ["confidential", "password", "--client-id", "fixed-client-id-1", "--client-secret", "S3cret-given", "--user", "1", "--skip-authorization"],
            valid: true),
        DifferentialCase(
            label: "--no-hash-client-secret with a given secret",
            arguments: ["confidential", "password", "--client-id", "plain-1", "--client-secret", "plainsecret", "--no-hash-client-secret"],
            valid: true),
        DifferentialCase(
            label: "HS256 with a generated plaintext secret",
            arguments: ["confidential", "password", "--client-id", "hs-1", "--no-hash-client-secret", "--algorithm", "HS256"],
            valid: true),
        DifferentialCase(
            label: "a secret that looks hashed is stored verbatim",
            arguments: ["confidential", "password", "--client-id", "hashed-1", "--client-secret", "pbkdf2_sha256$foo"],
            valid: true),
        DifferentialCase(
            label: "RS256 with OIDC_RSA_PRIVATE_KEY set",
            arguments: ["confidential", "openid-hybrid", "--redirect-uris", "https://a.example/cb", "--algorithm", "RS256"],
            environment: rsaKey, valid: true),
        DifferentialCase(
            label: "custom scheme allowed by ALLOWED_REDIRECT_URI_SCHEMES",
            arguments: ["public", "implicit", "--redirect-uris", "com.example.app:/cb https://a.example/cb", "--post-logout-redirect-uris", "not a uri ftp://x"],
            environment: ["ALLOWED_REDIRECT_URI_SCHEMES": "https,com.example.app"], valid: true),
        DifferentialCase(
            label: "empty strings mean not given",
            arguments: ["confidential", "password", "--client-id", "", "--client-secret", "", "--name", "", "--user", "", "--algorithm", ""],
            valid: true),
        DifferentialCase(
            label: "device code grant, non-ASCII name, odd client id",
            arguments: ["public", "urn:ietf:params:oauth:grant-type:device_code", "--client-id", "has space:colon", "--name", "Café ☃ “quoted” 'x'"],
            valid: true),
        DifferentialCase(
            label: "SQL in every text field",
            arguments: [
                "confidential", "authorization-code", "--client-id", "x'); DROP TABLE auth_user; --",
                "--redirect-uris", "https://example.com/cb?q=');DROP%20TABLE%20auth_user;--",
                "--post-logout-redirect-uris", "'; DELETE FROM oauth2_provider_application; -- $1",
                "--name", "Robert'); DROP TABLE oauth2_provider_application;--",
                "--client-secret", "'; TRUNCATE oauth2_provider_application; --", "--no-hash-client-secret",
            ],
            valid: true),
        // refused (every validation failure of docs/dot-compatibility.md#createapplication, and more)
        DifferentialCase(
            label: "duplicate client id", arguments: ["confidential", "password", "--client-id", "oauthq-seed-app"], valid: false),
        DifferentialCase(label: "invalid choices", arguments: ["foo", "bar"], valid: false),
        DifferentialCase(label: "authorization-code without redirect URIs", arguments: ["confidential", "authorization-code"], valid: false),
        DifferentialCase(
            label: "unknown user id",
            arguments: ["confidential", "authorization-code", "--user", "999", "--redirect-uris", "https://a.example/cb"], valid: false),
        DifferentialCase(
            label: "username instead of id",
            arguments: ["confidential", "authorization-code", "--user", "alice", "--redirect-uris", "https://a.example/cb"], valid: false),
        DifferentialCase(
            label: "redirect URI rules",
            arguments: [
                "confidential", "authorization-code", "--redirect-uris",
                "https://a.example/cb#frag http://localhost:8000/cb?x=1 com.example.app:/cb https:/nohost https://*.example.com/cb",
            ],
            valid: false),
        DifferentialCase(
            label: "HS256 with hashing on",
            arguments: ["confidential", "authorization-code", "--redirect-uris", "https://a.example/cb", "--algorithm", "HS256"], valid: false),
        DifferentialCase(
            label: "HS256 for a public implicit client with a hashed-looking plaintext secret",
            arguments: ["public", "implicit", "--redirect-uris", "https://a.example/cb", "--algorithm", "HS256", "--no-hash-client-secret", "--client-secret", "argon2$x"],
            valid: false),
        DifferentialCase(label: "blank positional arguments", arguments: ["", ""], valid: false),
        DifferentialCase(
            label: "several fields at once",
            arguments: ["bogus", "authorization-code", "--user", "999", "--algorithm", "RS256", "--name", String(repeating: "n", count: 256)],
            valid: false),
        DifferentialCase(
            label: "lengths: 256-character client id, unknown algorithm",
            arguments: ["confidential", "password", "--client-id", String(repeating: "é", count: 256), "--algorithm", "RS257"], valid: false),
    ]
}

// MARK: - Rows

enum ApplicationRows {
    /// Every column but `id`, `created`, `updated`.
    static let compared = [
        "client_id", "user_id", "redirect_uris", "post_logout_redirect_uris", "client_type", "authorization_grant_type",
        "client_secret", "hash_client_secret", "name", "skip_authorization", "algorithm", "allowed_origins",
        "registration_source", "cimd_expires_at",
    ]

    /// The applications other than the template's seed, every column as text.
    static func fetch(_ database: TemporaryDatabase) async throws -> [[String: String?]] {
        let connection = try await database.connect()
        let result = try await connection.query(
            """
            SELECT id::text, client_id, user_id::text, redirect_uris, post_logout_redirect_uris, client_type,
                   authorization_grant_type, client_secret, hash_client_secret::text, name, skip_authorization::text,
                   created::text, updated::text, algorithm, allowed_origins, registration_source, cimd_expires_at::text
              FROM oauth2_provider_application WHERE client_id <> \(DjangoTemplateDatabase.seedClientID) ORDER BY id
            """)
        await connection.close()
        return try result.rows.map { row in
            var values: [String: String?] = [:]
            for (index, column) in result.columns.enumerated() {
                values[column] = try row.decode(String?.self, column: index)
            }
            return values
        }
    }
}

// MARK: - The Django side

enum DjangoReference {
    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: RepositoryPaths.venvPython.path)
    }
}

/// For the whole suite: one database migrated by Django's own `manage.py migrate` (so the schema is DOT's),
/// with auth_user 1 (`alice`) and the application `oauthq-seed-app`; each case clones it twice.
struct DjangoTemplateDatabase: SuiteTrait, TestScoping {
    @TaskLocal static var name: String?
    static let seedClientID = "oauthq-seed-app"

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard DjangoReference.isAvailable, TestEnvironment.shouldRunPostgres else {
            try await function()
            return
        }
        let template = try await TemporaryDatabase.create(prefix: "oauthq_diff_template")
        do {
            let migrate = try await ProcessRunner.output(
                RepositoryPaths.venvPython, [RepositoryPaths.reference("manage.py").path, "migrate", "-v0"],
                environment: ["DATABASE_URL": template.url])
            try #require(migrate.status == 0, "manage.py migrate failed: \(migrate.stderr)")
            let connection = try await template.connect()
            try await connection.execute(
                """
                INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, \
                is_active, date_joined) VALUES (1, '', false, 'alice', '', '', '', false, true, now())
                """)
            let seed = try await CreateApplicationJob(settings: CreateApplicationSettings(hashIterations: 1_000)).run(
                CreateApplicationRequest(
                    clientType: "confidential", authorizationGrantType: "client-credentials", clientID: Self.seedClientID),
                on: connection)
            await connection.close()
            guard case .created = seed else {
                Issue.record("seeding the template failed: \(seed)")
                try await template.drop()
                return
            }
            try await Self.$name.withValue(template.name) {
                try await function()
            }
        } catch {
            try? await template.drop()
            throw error
        }
        try await template.drop()
    }
}

extension Trait where Self == DjangoTemplateDatabase {
    /// See ``DjangoTemplateDatabase``.
    static var djangoTemplateDatabase: Self { Self() }
}
