import Foundation
import Postgres
import Testing
import TestSupport

@testable import OAuthMaintenance

/// `CreateApplicationJob` and `PostgresApplicationStore` on DOT's real schema, one temporary database
/// per test: auth_user ids 1 and 2 exist, and one application `oauthq-seed-app`.
@Suite("createapplication job (PostgreSQL)", .enabled(if: TestEnvironment.shouldRunPostgres))
struct CreateApplicationJobTests {
    /// Fast hashing for tests that are not about the iteration count.
    static let fast = CreateApplicationSettings(hashIterations: 1_000)

    static func withDatabase(_ body: (PostgresConnection) async throws -> Void) async throws {
        try await TemporaryDatabase.with(prefix: "oauthq_createapp") { database in
            let connection = try await database.connect()
            try await DOTSchema.migrate(on: connection)
            for (id, username) in [(Int32(1), "alice"), (2, "bob")] {
                try await connection.execute(
                    """
                    INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, \
                    is_staff, is_active, date_joined) VALUES (\(id), '', false, \(username), '', '', '', false, true, now())
                    """)
            }
            let seed = CreateApplicationRequest(
                clientType: "confidential", authorizationGrantType: "client-credentials", clientID: "oauthq-seed-app",
                clientSecret: "seed", hashClientSecret: false)
            let created = try await CreateApplicationJob(settings: fast).run(seed, on: connection)
            guard case .created = created else {
                Issue.record("seeding failed: \(created)")
                return
            }
            try await body(connection)
            await connection.close()
        }
    }

    /// The stored row of `clientID`, every column as text (NULL as nil).
    static func row(_ clientID: String, on connection: PostgresConnection) async throws -> [String: String?] {
        let result = try await connection.query(
            """
            SELECT id::text, client_id, user_id::text, redirect_uris, post_logout_redirect_uris, client_type,
                   authorization_grant_type, client_secret, hash_client_secret::text, name, skip_authorization::text,
                   created::text, updated::text, algorithm, allowed_origins, registration_source, cimd_expires_at::text
              FROM oauth2_provider_application WHERE client_id = \(clientID)
            """)
        let row = try #require(result.rows.first, "no row for \(clientID)")
        var values: [String: String?] = [:]
        for (index, column) in result.columns.enumerated() {
            values[column] = try row.decode(String?.self, column: index)
        }
        return values
    }

    static func applicationCount(_ connection: PostgresConnection) async throws -> Int64 {
        try await connection.query("SELECT count(*) FROM oauth2_provider_application").rows[0].decode(Int64.self, column: 0)
    }

    static func created(_ result: CreateApplicationResult) throws -> CreatedApplication {
        guard case .created(let application) = result else {
            Issue.record("expected success, got \(result.outputLines)")
            throw CancellationError()
        }
        return application
    }

    static func isAlphanumeric(_ text: String, count: Int) -> Bool {
        text.count == count && text.unicodeScalars.allSatisfy { $0.isASCII && CharacterSet.alphanumerics.contains($0) }
    }

    // MARK: - Success

    @Test("generated client id and secret: 40 and 128 characters, the hash (1,000,000 iterations) verifies")
    func generated() async throws {
        try await Self.withDatabase { connection in
            let before = Date()
            let result = try await CreateApplicationJob().run(
                CreateApplicationRequest(clientType: "public", authorizationGrantType: "client-credentials"), on: connection)
            let application = try Self.created(result)
            let secret = try #require(application.clientSecret)
            #expect(Self.isAlphanumeric(application.clientID, count: 40))
            #expect(Self.isAlphanumeric(secret, count: 128))
            #expect(application.name == "")
            #expect(result.outputLines == ["New application \(application.clientID) created successfully.", "client_secret: \(secret)"])

            let row = try await Self.row(application.clientID, on: connection)
            #expect(row["id"] == "\(application.id)")
            let stored = try #require(row["client_secret"] ?? nil)
            #expect(stored.hasPrefix("pbkdf2_sha256$1000000$"))
            #expect(stored.count == 89)
            #expect(DjangoPasswordHasher().verify(secret, encoded: stored))
            #expect(!DjangoPasswordHasher().verify(secret + "x", encoded: stored))
            let expected: [String: String?] = [
                "user_id": nil, "redirect_uris": "", "post_logout_redirect_uris": "", "client_type": "public",
                "authorization_grant_type": "client-credentials", "hash_client_secret": "true", "name": "",
                "skip_authorization": "false", "algorithm": "", "allowed_origins": "", "registration_source": "manual",
                "cimd_expires_at": nil,
            ]
            for (column, value) in expected {
                #expect(row[column] == .some(value), "\(column)")
            }
            let created = try await connection.query(
                "SELECT created, updated FROM oauth2_provider_application WHERE id = \(application.id)").rows[0]
            let createdAt = try created.decode(Date.self, column: 0)
            let updatedAt = try created.decode(Date.self, column: 1)
            #expect(createdAt >= before.addingTimeInterval(-0.001) && createdAt <= Date())
            #expect(updatedAt >= createdAt)
        }
    }

    @Test("given client id, secret, user, name, skip-authorization: one success line, hashed given secret")
    func given() async throws {
        try await Self.withDatabase { connection in
            let request = CreateApplicationRequest(
                clientType: "confidential", authorizationGrantType: "authorization-code", clientID: "fixed-client-id-1",
                user: "1", redirectURIs: "https://example.com/cb  https://example.com/cb2",
                postLogoutRedirectURIs: "not a uri ftp://x", clientSecret: "S3cret-given", name: "My App",
                skipAuthorization: true)
            let result = try await CreateApplicationJob(settings: Self.fast).run(request, on: connection)
            let application = try Self.created(result)
            #expect(application == CreatedApplication(id: application.id, clientID: "fixed-client-id-1", name: "My App", clientSecret: nil))
            #expect(result.outputLines == ["New application My App created successfully."])
            let row = try await Self.row("fixed-client-id-1", on: connection)
            #expect(row["user_id"] == "1")
            #expect(row["redirect_uris"] == "https://example.com/cb  https://example.com/cb2")
            #expect(row["post_logout_redirect_uris"] == "not a uri ftp://x")
            #expect(row["skip_authorization"] == "true")
            #expect(row["name"] == "My App")
            let stored = try #require(row["client_secret"] ?? nil)
            #expect(stored.hasPrefix("pbkdf2_sha256$1000$"))
            #expect(DjangoPasswordHasher().verify("S3cret-given", encoded: stored))
        }
    }

    @Test("--no-hash-client-secret stores the plaintext, given or generated")
    func plaintext() async throws {
        try await Self.withDatabase { connection in
            let job = CreateApplicationJob(settings: Self.fast)
            _ = try Self.created(
                try await job.run(
                    CreateApplicationRequest(
                        clientType: "confidential", authorizationGrantType: "password", clientID: "plain-1",
                        clientSecret: "plainsecret", hashClientSecret: false), on: connection))
            #expect(try await Self.row("plain-1", on: connection)["client_secret"] == "plainsecret")
            #expect(try await Self.row("plain-1", on: connection)["hash_client_secret"] == "false")

            let generated = try Self.created(
                try await job.run(
                    CreateApplicationRequest(
                        clientType: "confidential", authorizationGrantType: "password", clientID: "hs-1",
                        hashClientSecret: false, algorithm: "HS256"), on: connection))
            let secret = try #require(generated.clientSecret)
            #expect(try await Self.row("hs-1", on: connection)["client_secret"] == .some(secret))
            #expect(try await Self.row("hs-1", on: connection)["algorithm"] == "HS256")
        }
    }

    @Test("a secret that already looks hashed is stored verbatim with hashing on", arguments: ["pbkdf2_sha256$foo", "argon2$bar", "scrypt"])
    func alreadyHashed(secret: String) async throws {
        try await Self.withDatabase { connection in
            _ = try Self.created(
                try await CreateApplicationJob(settings: Self.fast).run(
                    CreateApplicationRequest(
                        clientType: "confidential", authorizationGrantType: "password", clientID: "hashed-1",
                        clientSecret: secret), on: connection))
            let row = try await Self.row("hashed-1", on: connection)
            #expect(row["client_secret"] == .some(secret))
            #expect(row["hash_client_secret"] == "true")
        }
    }

    // MARK: - Validation failures write nothing

    @Test("users: an existing id is stored; a missing id or a username is refused with DOT's message")
    func users() async throws {
        try await Self.withDatabase { connection in
            let job = CreateApplicationJob(settings: Self.fast)
            let ok = try Self.created(
                try await job.run(
                    CreateApplicationRequest(clientType: "public", authorizationGrantType: "password", user: "2"),
                    on: connection))
            #expect(try await Self.row(ok.clientID, on: connection)["user_id"] == "2")
            let count = try await Self.applicationCount(connection)
            let missing = try await job.run(
                CreateApplicationRequest(clientType: "public", authorizationGrantType: "password", user: "999"),
                on: connection)
            #expect(missing.outputLines == [
                "Please correct the following errors:", " - user: ['user instance with id 999 is not a valid choice.']",
            ])
            let name = try await job.run(
                CreateApplicationRequest(clientType: "public", authorizationGrantType: "password", user: "alice"),
                on: connection)
            #expect(name.outputLines == [
                "Please correct the following errors:", " - user: ['\u{201c}alice\u{201d} value must be an integer.']",
            ])
            #expect(try await Self.applicationCount(connection) == count)
        }
    }

    @Test("duplicate client id found by validation: DOT's message, nothing written")
    func duplicateByValidation() async throws {
        try await Self.withDatabase { connection in
            let result = try await CreateApplicationJob(settings: Self.fast).run(
                CreateApplicationRequest(clientType: "confidential", authorizationGrantType: "password", clientID: "oauthq-seed-app"),
                on: connection)
            #expect(result.outputLines == [
                "Please correct the following errors:", " - client_id: ['Application with this Client ID already exists.']",
            ])
            #expect(try await Self.applicationCount(connection) == 1)
        }
    }

    /// Lets validation pass, then runs `beforeInsert` (a concurrent writer) just before the INSERT.
    struct RacingStore: ApplicationStore {
        let base: PostgresApplicationStore
        let beforeInsert: @Sendable (NewApplicationRow) async throws -> Void

        func userExists(id: Int32) async throws -> Bool { try await base.userExists(id: id) }
        func clientIDExists(_ clientID: String) async throws -> Bool { try await base.clientIDExists(clientID) }
        func insert(_ row: NewApplicationRow) async throws -> ApplicationInsertOutcome {
            try await beforeInsert(row)
            return try await base.insert(row)
        }
    }

    @Test("duplicate client id racing past validation: the unique violation becomes DOT's validation error")
    func duplicateByRace() async throws {
        try await Self.withDatabase { connection in
            let store = RacingStore(base: PostgresApplicationStore(connection: connection)) { row in
                var rival = row
                rival.name = "the winner"
                guard case .inserted = try await PostgresApplicationStore(connection: connection).insert(rival) else {
                    throw CancellationError()
                }
            }
            let result = try await CreateApplicationJob(settings: Self.fast).run(
                CreateApplicationRequest(clientType: "public", authorizationGrantType: "password", clientID: "raced"),
                store: store)
            #expect(result == .invalid(Self.errors(("client_id", ["Application with this Client ID already exists."]))))
            #expect(result.outputLines == [
                "Please correct the following errors:", " - client_id: ['Application with this Client ID already exists.']",
            ])
            #expect(try await Self.applicationCount(connection) == 2)
            #expect(try await Self.row("raced", on: connection)["name"] == "the winner")
            // The connection is still usable: the failed transaction was rolled back.
            #expect(try await connection.query("SELECT 1").rows.count == 1)
        }
    }

    @Test("insert with a taken client id, called directly: .clientIDTaken, nothing written")
    func insertTaken() async throws {
        try await Self.withDatabase { connection in
            let draft = ApplicationDraft(
                request: CreateApplicationRequest(
                    clientType: "public", authorizationGrantType: "password", clientID: "oauthq-seed-app"),
                settings: Self.fast)
            let row = try ValidatedApplication(draft: draft, userID: nil, settings: Self.fast).makeRow()
            #expect(try await PostgresApplicationStore(connection: connection).insert(row) == .clientIDTaken)
            #expect(try await Self.applicationCount(connection) == 1)
        }
    }

    @Test("a user deleted between validation and COMMIT (deferred FK): DOT's invalid-user error, nothing written")
    func userDeletedByRace() async throws {
        try await Self.withDatabase { connection in
            let store = RacingStore(base: PostgresApplicationStore(connection: connection)) { _ in
                try await connection.execute("DELETE FROM auth_user WHERE id = 2")
            }
            let result = try await CreateApplicationJob(settings: Self.fast).run(
                CreateApplicationRequest(clientType: "public", authorizationGrantType: "password", user: "2"), store: store)
            #expect(result.outputLines == [
                "Please correct the following errors:", " - user: ['user instance with id 2 is not a valid choice.']",
            ])
            #expect(try await Self.applicationCount(connection) == 1)
        }
    }

    @Test("every recorded DOT createapplication run (DOTObservation): same output; failures write nothing")
    func observations() async throws {
        try await Self.withDatabase { connection in
            let job = CreateApplicationJob(settings: Self.fast)
            for observation in DOTObservation.all {
                let before = try await Self.applicationCount(connection)
                let result = try await job.run(observation.request, on: connection)
                switch observation.expected {
                case .failure(let expected):
                    #expect(result.outputLines == expected, "\(observation.request)")
                    #expect(try await Self.applicationCount(connection) == before, "\(observation.request)")
                case .success(let secretPrinted):
                    let application = try Self.created(result)
                    #expect((application.clientSecret != nil) == secretPrinted, "\(observation.request)")
                    #expect(try await Self.applicationCount(connection) == before + 1)
                    // Keep the database as the observations assume (only the seed app exists).
                    try await connection.execute("DELETE FROM oauth2_provider_application WHERE id = \(application.id)")
                }
            }
        }
    }

    @Test("SQL in every text field is stored verbatim and does nothing")
    func sqlInjection() async throws {
        try await Self.withDatabase { connection in
            let evil = "x'); DROP TABLE auth_user; --"
            let request = CreateApplicationRequest(
                clientType: "confidential", authorizationGrantType: "authorization-code", clientID: evil,
                redirectURIs: "https://example.com/cb?q=');DROP%20TABLE%20auth_user;--'",
                postLogoutRedirectURIs: "\(evil) $1 \\' \"; DELETE FROM oauth2_provider_application; --",
                clientSecret: "'; TRUNCATE oauth2_provider_application; --", hashClientSecret: false,
                name: "Robert'); DROP TABLE oauth2_provider_application;-- $$ \\x00")
            let application = try Self.created(try await CreateApplicationJob(settings: Self.fast).run(request, on: connection))
            #expect(application.clientID == evil)
            #expect(application.clientSecret == nil)
            let row = try await Self.row(evil, on: connection)
            #expect(row["client_id"] == .some(request.clientID))
            #expect(row["redirect_uris"] == .some(request.redirectURIs))
            #expect(row["post_logout_redirect_uris"] == .some(request.postLogoutRedirectURIs))
            #expect(row["client_secret"] == .some(request.clientSecret))
            #expect(row["name"] == .some(request.name))
            #expect(try await Self.applicationCount(connection) == 2)
            #expect(try await connection.query("SELECT count(*) FROM auth_user").rows[0].decode(Int64.self, column: 0) == 2)

            // The injected strings also reach the lookups harmlessly.
            let lookups = try await CreateApplicationJob(settings: Self.fast).run(
                CreateApplicationRequest(
                    clientType: "public", authorizationGrantType: "password", clientID: "' OR '1'='1",
                    user: "1; DROP TABLE auth_user"), on: connection)
            #expect(lookups.outputLines == [
                "Please correct the following errors:",
                " - user: ['\u{201c}1; DROP TABLE auth_user\u{201d} value must be an integer.']",
            ])
            #expect(try await Self.applicationCount(connection) == 2)
        }
    }

    static func errors(_ fields: (String, [String])...) -> ApplicationValidationErrors {
        var errors = ApplicationValidationErrors()
        for (field, messages) in fields {
            for message in messages { errors.append(message, to: field) }
        }
        return errors
    }
}

@Suite("createapplication job: result JSON, settings, messages")
struct CreateApplicationJobUnitTests {
    @Test("success JSON is {id, client_id, name, client_secret?}; the secret only when generated")
    func successJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let generated = CreateApplicationResult.created(CreatedApplication(id: 7, clientID: "abc", name: "", clientSecret: "s3"))
        #expect(String(decoding: try encoder.encode(generated), as: UTF8.self) == #"{"client_id":"abc","client_secret":"s3","id":7,"name":""}"#)
        let given = CreateApplicationResult.created(CreatedApplication(id: 8, clientID: "abc", name: "App", clientSecret: nil))
        #expect(String(decoding: try encoder.encode(given), as: UTF8.self) == #"{"client_id":"abc","id":8,"name":"App"}"#)
        for result in [generated, given] {
            #expect(try JSONDecoder().decode(CreateApplicationResult.self, from: try encoder.encode(result)) == result)
        }
        #expect(!String(describing: generated).contains("s3"))
        #expect(generated.outputLines == ["New application abc created successfully.", "client_secret: s3"])
        #expect(given.outputLines == ["New application App created successfully."])
    }

    @Test("failure JSON is {errors: message_dict}; decoding keeps every message of every field")
    func failureJSON() throws {
        let errors = CreateApplicationJobTests.errors(
            ("user", ["user instance with id 999 is not a valid choice."]),
            ("client_type", ["Value 'bogus' is not a valid choice."]),
            ("algorithm", ["a", "b"]))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(CreateApplicationResult.invalid(errors))
        #expect(
            String(decoding: data, as: UTF8.self)
                == #"{"errors":{"algorithm":["a","b"],"client_type":["Value 'bogus' is not a valid choice."],"user":["user instance with id 999 is not a valid choice."]}}"#
        )
        guard case .invalid(let decoded) = try JSONDecoder().decode(CreateApplicationResult.self, from: data) else {
            Issue.record("decoded as success")
            return
        }
        #expect(Set(decoded.fields) == Set(errors.fields))
    }

    @Test("the race messages are the validator's own")
    func raceMessages() async throws {
        let request = CreateApplicationRequest(
            clientType: "public", authorizationGrantType: "password", clientID: "taken", user: "5")
        let draft = ApplicationDraft(request: request)
        guard case .invalid(let errors) = try await CreateApplicationValidator().validate(
            draft, lookup: StaticApplicationLookup(userIDs: [], clientIDs: ["taken"]))
        else {
            Issue.record("expected errors")
            return
        }
        #expect(errors["client_id"] == [CreateApplicationJob.duplicateClientIDMessage()])
        #expect(errors["user"] == [CreateApplicationJob.unknownUserMessage("5")])
    }

    @Test("settings from the environment: DOT's names, defaults when unset or empty")
    func settings() throws {
        #expect(try CreateApplicationSettings(environment: [:]) == CreateApplicationSettings())
        #expect(try CreateApplicationSettings(environment: ["ALLOWED_REDIRECT_URI_SCHEMES": "", "OIDC_RSA_PRIVATE_KEY": ""]) == CreateApplicationSettings())
        let custom = try CreateApplicationSettings(environment: [
            "ALLOWED_REDIRECT_URI_SCHEMES": "https, com.example.app  myapp",
            "ALLOW_URI_WILDCARDS": "true",
            "OIDC_RSA_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n...",
            "CLIENT_SECRET_GENERATOR_LENGTH": "64",
            "OAUTHQ_PBKDF2_ITERATIONS": "600000",
        ])
        #expect(custom.allowedRedirectURISchemes == ["https", "com.example.app", "myapp"])
        #expect(custom.allowURIWildcards)
        #expect(custom.oidcRSAPrivateKeyConfigured)
        #expect(custom.clientSecretLength == 64)
        #expect(custom.hashIterations == 600_000)
        let json = try CreateApplicationSettings(environment: ["ALLOWED_REDIRECT_URI_SCHEMES": #" ["https", "myapp"] "#])
        #expect(json.allowedRedirectURISchemes == ["https", "myapp"])
    }

    @Test(
        "settings errors name the variable, never the value",
        arguments: [
            ("ALLOWED_REDIRECT_URI_SCHEMES", "[https"), ("ALLOWED_REDIRECT_URI_SCHEMES", "[1, 2]"),
            ("ALLOW_URI_WILDCARDS", "maybe"), ("CLIENT_SECRET_GENERATOR_LENGTH", "-3"),
            ("OAUTHQ_PBKDF2_ITERATIONS", "-1"), ("OAUTHQ_PBKDF2_ITERATIONS", "abc"), ("OAUTHQ_PBKDF2_ITERATIONS", "99999999999"),
        ])
    func settingsErrors(key: String, value: String) throws {
        let error = #expect(throws: CreateApplicationSettings.ConfigurationError.self) {
            try CreateApplicationSettings(environment: [key: value])
        }
        #expect(error?.description.hasPrefix(key) == true)
        #expect(error?.description.contains(value) == false)
    }
}
