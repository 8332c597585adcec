import Testing
import TestSupport
@testable import OAuthMaintenance

@Suite("client id / secret / salt generators")
struct AlphanumericGeneratorTests {
    /// Always returns words whose 6-bit fields are all 62 or 63: nothing may be accepted from them.
    struct RejectingThenCounting: RandomNumberGenerator {
        var calls = 0
        mutating func next() -> UInt64 {
            calls += 1
            if calls <= 3 { return UInt64.max }  // every field is 63
            return 0  // every field is 0 -> "a"
        }
    }

    @Test("alphabet is [A-Za-z0-9], 62 distinct characters")
    func alphabet() {
        #expect(Set(AlphanumericGenerator.alphabet).count == 62)
        #expect(AlphanumericGenerator.alphabet.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) })
    }

    @Test("client id is 40 characters and secret 128, from the alphabet, from the system CSPRNG")
    func lengths() {
        var rng = SystemRandomNumberGenerator()
        let generator = ClientCredentialGenerator()
        let id = generator.clientID(using: &rng)
        let secret = generator.clientSecret(using: &rng)
        #expect(id.utf8.count == 40)
        #expect(secret.utf8.count == 128)
        #expect((id + secret).utf8.allSatisfy { AlphanumericGenerator.alphabet.contains($0) })
        #expect(generator.clientID(using: &rng) != id)
        #expect(ClientCredentialGenerator(clientSecretLength: 64).clientSecret(using: &rng).utf8.count == 64)
        #expect(AlphanumericGenerator().string(length: 0) == "")
    }

    @Test("fields 62 and 63 are rejected, never folded onto the alphabet")
    func rejection() {
        var rng = RejectingThenCounting()
        let value = AlphanumericGenerator().string(length: 12, using: &rng)
        #expect(value == String(repeating: "a", count: 12))
        #expect(rng.calls == 5, "3 rejected words, then 10 + 2 characters from two words")
    }

    @Test("roughly uniform over 62 characters")
    func uniform() {
        var rng = SplitMix64(state: 42)
        let sample = AlphanumericGenerator().string(length: 62 * 2000, using: &rng)
        var counts: [UInt8: Int] = [:]
        for byte in sample.utf8 { counts[byte, default: 0] += 1 }
        #expect(counts.count == 62)
        // Expected 2000 each; a biased mapping (e.g. modulo 62 on 64 values) would give 'a' and 'b' ~4000.
        #expect(counts.values.allSatisfy { (1700...2300).contains($0) })
    }
}
