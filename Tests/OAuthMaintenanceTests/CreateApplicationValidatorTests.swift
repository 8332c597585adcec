import Foundation
import Testing
@testable import OAuthMaintenance

@Suite("createapplication validation (DOT 3.4.1 full_clean)")
struct CreateApplicationValidatorTests {
    /// Records which lookups ran.
    actor RecordingLookup: ApplicationLookup {
        var users: [Int32] = []
        var clientIDs: [String] = []
        let existingUsers: Set<Int32>
        let existingClientIDs: Set<String>

        init(existingUsers: Set<Int32> = [1], existingClientIDs: Set<String> = []) {
            self.existingUsers = existingUsers
            self.existingClientIDs = existingClientIDs
        }

        func userExists(id: Int32) async throws -> Bool {
            users.append(id)
            return existingUsers.contains(id)
        }

        func clientIDExists(_ clientID: String) async throws -> Bool {
            clientIDs.append(clientID)
            return existingClientIDs.contains(clientID)
        }
    }

    static func lines(
        _ request: CreateApplicationRequest,
        settings: CreateApplicationSettings = CreateApplicationSettings(),
        lookup: some ApplicationLookup = StaticApplicationLookup(userIDs: [1], clientIDs: ["fixed-client-id-1"])
    ) async throws -> [String] {
        let draft = ApplicationDraft(request: request, settings: settings)
        switch try await CreateApplicationValidator(settings: settings).validate(draft, lookup: lookup) {
        case .valid(let application): return application.successLines
        case .invalid(let errors): return errors.outputLines
        }
    }

    static let header = "Please correct the following errors:"

    // MARK: - DOT 3.4.1's observed output (expected strings copied from real `manage.py createapplication` runs)

    @Test("a duplicate client id is refused with DOT's message")
    func duplicateClientID() async throws {
        let out = try await Self.lines(.init(clientType: "confidential", authorizationGrantType: "password", clientID: "fixed-client-id-1"))
        #expect(out == [Self.header, " - client_id: ['Application with this Client ID already exists.']"])
    }

    @Test("an invalid client type or grant type is refused with DOT's choice messages")
    func invalidChoices() async throws {
        let out = try await Self.lines(.init(clientType: "foo", authorizationGrantType: "bar"))
        #expect(out == [
            Self.header,
            #" - client_type: ["Value 'foo' is not a valid choice."]"#,
            #" - authorization_grant_type: ["Value 'bar' is not a valid choice."]"#,
        ])
    }

    @Test("authorization-code without redirect URIs is refused as DOT refuses it")
    func missingRedirectURIs() async throws {
        let out = try await Self.lines(.init(clientType: "confidential", authorizationGrantType: "authorization-code"))
        #expect(out == [Self.header, " - redirect_uris: ['redirect_uris cannot be empty with grant_type authorization-code']"])
    }

    @Test("an unknown user id is refused with DOT's not-a-valid-choice message")
    func unknownUser() async throws {
        let out = try await Self.lines(
            .init(clientType: "confidential", authorizationGrantType: "authorization-code", user: "999", redirectURIs: "https://a.example/cb"))
        #expect(out == [Self.header, " - user: ['user instance with id 999 is not a valid choice.']"])
    }

    @Test("a username instead of a user id is refused as DOT refuses it")
    func nonIntegerUser() async throws {
        let out = try await Self.lines(
            .init(clientType: "confidential", authorizationGrantType: "authorization-code", user: "alice", redirectURIs: "https://a.example/cb"))
        #expect(out == [Self.header, " - user: ['“alice” value must be an integer.']"])
    }

    @Test("redirect URIs: scheme, fragment, host and wildcard rules give DOT's messages")
    func redirectURIRules() async throws {
        let out = try await Self.lines(
            .init(
                clientType: "confidential", authorizationGrantType: "authorization-code",
                redirectURIs: "https://a.example/cb#frag http://localhost:8000/cb?x=1 com.example.app:/cb https:/nohost"))
        #expect(out == [
            Self.header,
            " - redirect_uris: ['redirect uri URI validation error. fragment not allowed: https://a.example/cb#frag', "
                + "'redirect uri URI Validation error. invalid_scheme: com.example.app:/cb', "
                + "'redirect uri URI validation error. missing host: https:/nohost']",
        ])
    }

    @Test("HS256 with hashing on is refused with DOT's 260-character message on hash_client_secret")
    func hs256Hashed() async throws {
        let out = try await Self.lines(
            .init(clientType: "confidential", authorizationGrantType: "authorization-code", redirectURIs: "https://a.example/cb", algorithm: "HS256"))
        #expect(out == [Self.header, " - hash_client_secret: ['\(CreateApplicationValidator.hs256HashedSecretMessage)']"])
        #expect(CreateApplicationValidator.hs256HashedSecretMessage.count == 260)
        #expect(CreateApplicationValidator.hs256HashedSecretMessage.hasPrefix("You cannot use HS256 with a hashed client secret. "))
        #expect(CreateApplicationValidator.hs256HashedSecretMessage.contains("set hash_client_secret=False"))
    }

    @Test("blank positional arguments are refused with DOT's blank-field messages")
    func blank() async throws {
        let out = try await Self.lines(.init(clientType: "", authorizationGrantType: ""))
        #expect(out == [
            Self.header,
            " - client_type: ['This field cannot be blank.']",
            " - authorization_grant_type: ['This field cannot be blank.']",
        ])
    }

    @Test("errors in several fields: field checks first, then clean(), in DOT's order")
    func severalFields() async throws {
        let out = try await Self.lines(
            .init(
                clientType: "bogus", authorizationGrantType: "authorization-code", user: "999",
                name: String(repeating: "n", count: 256), algorithm: "RS256"))
        #expect(out == [
            Self.header,
            " - user: ['user instance with id 999 is not a valid choice.']",
            #" - client_type: ["Value 'bogus' is not a valid choice."]"#,
            " - name: ['Ensure this value has at most 255 characters (it has 256).']",
            " - redirect_uris: ['redirect_uris cannot be empty with grant_type authorization-code']",
            " - algorithm: ['You must set OIDC_RSA_PRIVATE_KEY to use RSA algorithm']",
        ])
    }

    @Test("success with a name and a generated secret prints DOT's lines")
    func successNamed() async throws {
        let out = try await Self.lines(
            .init(
                clientType: "confidential", authorizationGrantType: "authorization-code",
                redirectURIs: "https://example.com/cb https://example.com/cb2", name: "My App"))
        #expect(out.count == 2)
        #expect(out[0] == "New application My App created successfully.")
        #expect(out[1].hasPrefix("client_secret: "))
        #expect(out[1].dropFirst("client_secret: ".count).count == 128)
    }

    @Test("success without a name shows the generated client id; public clients get a secret too")
    func successPublic() async throws {
        let out = try await Self.lines(.init(clientType: "public", authorizationGrantType: "client-credentials"))
        #expect(out.count == 2)
        #expect(out[0].hasPrefix("New application ") && out[0].hasSuffix(" created successfully."))
        #expect(out[0].count == "New application  created successfully.".count + 40)
        #expect(out[1].count == "client_secret: ".count + 128)
    }

    @Test("success with a given id and secret prints one line")
    func successGivenSecret() async throws {
        let out = try await Self.lines(
            .init(
                clientType: "confidential", authorizationGrantType: "password", clientID: "fixed-client-id-2",
                user: "1", clientSecret: "S3cret-given", skipAuthorization: true))
        #expect(out == ["New application fixed-client-id-2 created successfully."])
    }

    // MARK: - Observed DOT runs (generated fixture)

    @Test("matches real DOT stdout for 35 observed runs")
    func observations() async throws {
        for observation in DOTObservation.all {
            let out = try await Self.lines(observation.request, lookup: DOTObservation.lookup)
            switch observation.expected {
            case .failure(let expected):
                #expect(out == expected, "\(observation.request)")
            case .success(let secretPrinted):
                #expect(out.first?.hasSuffix(" created successfully.") == true, "\(observation.request)")
                #expect(out.count == (secretPrinted ? 2 : 1))
            }
        }
    }

    // MARK: - Settings and lookups

    @Test("RS256 passes once the private key is configured")
    func rs256Configured() async throws {
        let settings = CreateApplicationSettings(oidcRSAPrivateKeyConfigured: true)
        let out = try await Self.lines(.init(clientType: "confidential", authorizationGrantType: "password", algorithm: "RS256"), settings: settings)
        #expect(out.first?.hasSuffix("created successfully.") == true)
    }

    @Test("HS256 is fine for a confidential client with an unhashed plain secret")
    func hs256Plain() async throws {
        let out = try await Self.lines(
            .init(clientType: "confidential", authorizationGrantType: "password", hashClientSecret: false, algorithm: "HS256"))
        #expect(out.count == 2)
    }

    @Test("HS256: public client and hashed flag both reported, algorithm first")
    func hs256PublicAndHashed() async throws {
        let out = try await Self.lines(.init(clientType: "public", authorizationGrantType: "password", algorithm: "HS256"))
        #expect(out == [
            Self.header,
            " - algorithm: ['You cannot use HS256 with public grants or clients']",
            " - hash_client_secret: ['\(CreateApplicationValidator.hs256HashedSecretMessage)']",
        ])
    }

    @Test("ALLOWED_REDIRECT_URI_SCHEMES: an authority-less custom scheme needs the scheme:/path shape (observed in DOT)")
    func customScheme() async throws {
        let settings = CreateApplicationSettings(allowedRedirectURISchemes: ["https", "COM.Example.App"])
        let out = try await Self.lines(
            .init(clientType: "public", authorizationGrantType: "authorization-code", redirectURIs: "com.example.app:/cb com.example.app:cb com.example.app://cb"),
            settings: settings)
        #expect(out == [
            Self.header,
            // Observed in DOT: "com.example.app://cb" has an authority ("cb"), so it passes the URL regex.
            " - redirect_uris: ['redirect uri URI validation error. invalid URI: com.example.app:cb']",
        ])
    }

    @Test("ALLOW_URI_WILDCARDS (observed in DOT)")
    func wildcards() async throws {
        let settings = CreateApplicationSettings(allowURIWildcards: true)
        let out = try await Self.lines(
            .init(
                clientType: "public", authorizationGrantType: "authorization-code",
                redirectURIs: "https://*.example.com/cb https://*--site.netlify.app/ https://a.*.com/ https://*.com/ https://**.a.com/"),
            settings: settings)
        #expect(out == [
            Self.header,
            " - redirect_uris: ['redirect uri URI validation error. wildcards must be at the beginning of the hostname: https://a.*.com/', "
                + "'redirect uri URI validation error. wildcards cannot be in the top level or second level domain: https://*.com/', "
                + "'redirect uri URI validation error. only one wildcard is allowed in the hostname: https://**.a.com/']",
        ])
    }

    @Test("lookups: user asked only for an in-range integer, client id only when its field checks passed")
    func lookupCalls() async throws {
        let lookup = RecordingLookup()
        _ = try await Self.lines(.init(clientType: "confidential", authorizationGrantType: "password", user: "+0001"), lookup: lookup)
        #expect(await lookup.users == [1])
        #expect(await lookup.clientIDs.count == 1)
        #expect(await lookup.clientIDs.first?.count == 40)

        let second = RecordingLookup()
        let out = try await Self.lines(
            .init(clientType: "confidential", authorizationGrantType: "password", clientID: String(repeating: "c", count: 256), user: "99999999999"),
            lookup: second)
        #expect(await second.users.isEmpty)
        #expect(await second.clientIDs.isEmpty)
        #expect(out[1] == " - client_id: ['Ensure this value has at most 255 characters (it has 256).']")
        #expect(out[2] == " - user: ['user instance with id 99999999999 is not a valid choice.']")
    }

    @Test("uniqueness error comes after clean() errors")
    func uniquenessOrder() async throws {
        let out = try await Self.lines(
            .init(clientType: "confidential", authorizationGrantType: "implicit", clientID: "fixed-client-id-1"))
        #expect(out == [
            Self.header,
            " - redirect_uris: ['redirect_uris cannot be empty with grant_type implicit']",
            " - client_id: ['Application with this Client ID already exists.']",
        ])
    }

    @Test("lengths are counted in code points, like Python")
    func codePointLength() async throws {
        // 255 × "é" as e + combining acute: 255 graphemes, 510 code points.
        let name = String(repeating: "e\u{301}", count: 255)
        let out = try await Self.lines(.init(clientType: "confidential", authorizationGrantType: "password", name: name))
        #expect(out == [Self.header, " - name: ['Ensure this value has at most 255 characters (it has 510).']"])
    }

    // MARK: - Row and descriptions

    @Test("row: every NOT NULL column, secret hashed per pre_save, plaintext when hashing is off")
    func row() async throws {
        let settings = CreateApplicationSettings(hashIterations: 1000)
        let request = CreateApplicationRequest(
            clientType: "confidential", authorizationGrantType: "authorization-code", user: "1",
            redirectURIs: "  https://example.com/cb  ", postLogoutRedirectURIs: "not a uri ftp://x", name: "app")
        let draft = ApplicationDraft(request: request, settings: settings)
        guard case .valid(let application) = try await CreateApplicationValidator(settings: settings)
            .validate(draft, lookup: StaticApplicationLookup(userIDs: [1]))
        else {
            Issue.record("expected valid")
            return
        }
        var clock = Date(timeIntervalSince1970: 1_800_000_000)
        let row = try application.makeRow {
            defer { clock += 0.000_03 }
            return clock
        }
        #expect(row.userID == 1)
        #expect(row.clientID == draft.clientID)
        #expect(row.redirectURIs == "  https://example.com/cb  ")
        #expect(row.postLogoutRedirectURIs == "not a uri ftp://x")
        #expect(row.clientSecret.hasPrefix("pbkdf2_sha256$1000$"))
        #expect(row.hashClientSecret)
        #expect(row.algorithm == "")
        #expect(row.allowedOrigins == "")
        #expect(row.registrationSource == "manual")
        #expect(row.cimdExpiresAt == nil)
        #expect(row.updated > row.created)
        #expect(!row.skipAuthorization)
        #expect(NewApplicationRow.columns.count == 16)
        let secret = try #require(application.successLines.last?.dropFirst("client_secret: ".count))
        #expect(PasswordHasherRegistry.djangoDefault.checkClientSecret(provided: String(secret), stored: row.clientSecret))
        #expect(!String(describing: row).contains(row.clientSecret))
        #expect(!String(describing: application).contains(String(secret)))

        let plain = ApplicationDraft(
            request: .init(clientType: "public", authorizationGrantType: "password", clientSecret: "plainsecret", hashClientSecret: false),
            settings: settings)
        guard case .valid(let plainApp) = try await CreateApplicationValidator(settings: settings).validate(plain, lookup: StaticApplicationLookup())
        else {
            Issue.record("expected valid")
            return
        }
        let plainRow = try plainApp.makeRow()
        #expect(plainRow.clientSecret == "plainsecret")
        #expect(!plainRow.hashClientSecret)
        #expect(plainRow.userID == nil)
        #expect(!String(describing: plain).contains("plainsecret"))
    }
}
