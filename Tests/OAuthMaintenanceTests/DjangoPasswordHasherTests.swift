import Testing
@testable import OAuthMaintenance

@Suite("Django pbkdf2_sha256 hasher")
struct DjangoPasswordHasherTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let secret: String
        let salt: String
        let iterations: Int
        let encoded: String
        var testDescription: String { "\(iterations) iterations, salt \(salt)" }
    }

    /// Produced with Django 5.2's own make_password (docs/dot-compatibility.md#createapplication).
    static let vectors = [
        Vector(
            secret: "s3cr3t", salt: "abcdefghijklmnopqrstuv", iterations: 1_000_000,
            encoded: "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$KqRp2AtDfY6xq2oBN4BUgv8IzD9EF7b3zZroAQhjk1U="),
        Vector(
            secret: "Qm9Xr2LkT7vB1nZc8WdFh3JsYp6GaE0uKiO4tRlVx5MyNqC9bHwDjUe2AfSg7PzRkQm9Xr2LkT7vB1nZc8WdFh3JsYp6GaE0uKiO4tRlVx5MyNqC9bHwDjUe2AfSg7Pz",
            salt: "0123456789ABCDEFGHIJKL", iterations: 1_000_000,
            encoded: "pbkdf2_sha256$1000000$0123456789ABCDEFGHIJKL$I4+GhcX2xbXO7BcT9inps07J489cIgnKXrU89g1UPFc="),
        Vector(
            secret: "p\u{E4}ssw\u{F6}rd-\u{FC}n\u{EF}code", salt: "SaltSaltSaltSaltSaltSa", iterations: 1_000_000,
            encoded: "pbkdf2_sha256$1000000$SaltSaltSaltSaltSaltSa$fM0pxxI7KgCjyfqnaJh9BbnIoBW/0dtfDkDZ/m1bKOo="),
        Vector(
            secret: "s3cr3t", salt: "abcdefghijklmnopqrstuv", iterations: 1000,
            encoded: "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$BlUr8cp2iCsmEV6Q2heh9veDkCnyzpdSKsbkoCXvrcA="),
    ]

    @Test("Django make_password vectors: encode gives the same string, verify accepts it, secret+x is refused", arguments: vectors)
    func vector(_ vector: Vector) throws {
        let hasher = DjangoPasswordHasher()
        #expect(try hasher.encode(vector.secret, salt: vector.salt, iterations: vector.iterations) == vector.encoded)
        #expect(hasher.verify(vector.secret, encoded: vector.encoded))
        #expect(!hasher.verify(vector.secret + "x", encoded: vector.encoded))
    }

    @Test("vector 3's secret is the NFC UTF-8 bytes given to make_password")
    func unicodeVectorBytes() {
        let hex = Self.vectors[2].secret.utf8.map { String($0, radix: 16, uppercase: false) }
            .map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        #expect(hex == "70c3a4737377c3b672642dc3bc6ec3af636f6465")
    }

    @Test("makePassword: 89 characters, 22-character alphanumeric salt, verifies")
    func makePassword() throws {
        let hasher = DjangoPasswordHasher()
        let encoded = try hasher.makePassword("s3cr3t")
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        #expect(encoded.count == 89)
        #expect(parts.count == 4)
        #expect(parts[0] == "pbkdf2_sha256")
        #expect(parts[1] == "1000000")
        #expect(parts[2].count == 22)
        #expect(parts[2].utf8.allSatisfy { AlphanumericGenerator.alphabet.contains($0) })
        #expect(parts[3].count == 44)
        #expect(hasher.verify("s3cr3t", encoded: encoded))
        #expect(try hasher.makePassword("s3cr3t") != encoded, "a fresh salt each time")
    }

    @Test("configured iteration count is used and stored")
    func configuredIterations() throws {
        let encoded = try DjangoPasswordHasher(iterations: 1000).encode("s3cr3t", salt: "abcdefghijklmnopqrstuv")
        #expect(encoded == Self.vectors[3].encoded)
    }

    @Test("bad salts and counts are refused")
    func badArguments() {
        let hasher = DjangoPasswordHasher()
        #expect(throws: PasswordHashError(code: .invalidSalt)) { try hasher.encode("x", salt: "") }
        #expect(throws: PasswordHashError(code: .invalidSalt)) { try hasher.encode("x", salt: "a$b") }
        #expect(throws: PasswordHashError(code: .invalidIterations)) { try hasher.encode("x", salt: "ab", iterations: 0) }
    }

    @Test("pbkdf2_sha1 (Django PBKDF2SHA1PasswordHasher, 1000 iterations) verifies")
    func sha1() {
        let encoded = "pbkdf2_sha1$1000$abcdefghijklmnopqrstuv$+vm0rJCsXaFmouQMIkk2E+iR14c="
        #expect(DjangoPasswordHasher.pbkdf2SHA1().verify("s3cr3t", encoded: encoded))
        #expect(!DjangoPasswordHasher.pbkdf2SHA1().verify("nope", encoded: encoded))
    }

    @Test("errors never describe the secret")
    func errorDescription() {
        #expect(String(describing: PasswordHashError(code: .invalidSalt)) == "PasswordHashError(invalid salt)")
    }
}
