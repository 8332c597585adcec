import Foundation
import OAuthMaintenance
import Testing

/// Issue 11: work on untrusted strings is linear. Two million leading spaces in `user`, or C0 characters before
/// a redirect URI, are validated in milliseconds (they were quadratic: `removeFirst` on an array per character).
@Suite("linear validation of untrusted strings")
struct LinearValidationTests {
    static func validate(_ request: CreateApplicationRequest) async throws -> Duration {
        let started = ContinuousClock.now
        let draft = ApplicationDraft(request: request)
        _ = try await CreateApplicationValidator().validate(draft, lookup: StaticApplicationLookup(userIDs: [1]))
        return ContinuousClock.now - started
    }

    @Test("2,000,000 leading spaces in user")
    func spacesInUser() async throws {
        let request = CreateApplicationRequest(
            clientType: "confidential", authorizationGrantType: "client-credentials",
            user: String(repeating: " ", count: 2_000_000) + "1" + String(repeating: " ", count: 2_000_000)
        )
        let took = try await Self.validate(request)
        #expect(took < .seconds(10), "took \(took)")  // linear: ~1 s in a debug build on a busy machine; quadratic: hours
    }

    @Test("2,000,000 C0 characters before a redirect URI")
    func controlsInRedirectURI() async throws {
        let request = CreateApplicationRequest(
            clientType: "confidential", authorizationGrantType: "authorization-code",
            redirectURIs: String(repeating: "\u{01}", count: 2_000_000) + "https://example.com/cb"
        )
        let took = try await Self.validate(request)
        #expect(took < .seconds(10), "took \(took)")  // linear: ~1 s in a debug build on a busy machine; quadratic: hours
    }
}
