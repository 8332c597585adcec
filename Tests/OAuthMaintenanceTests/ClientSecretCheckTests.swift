import Testing
@testable import OAuthMaintenance

/// Expected values observed from DOT 3.4.1 / Django 5.2.19 in the reference venv (no argon2-cffi or bcrypt
/// installed): `identify_hasher(value).algorithm` and `OAuth2Validator()._check_secret(provided, stored)`.
@Suite("DOT secret rules: looks-hashed and _check_secret")
struct ClientSecretCheckTests {
    static let identified: [(String, String?)] = [
        ("pbkdf2_sha256$1$a$b", "pbkdf2_sha256"),
        ("pbkdf2_sha256", "pbkdf2_sha256"),
        ("pbkdf2_sha1$x", "pbkdf2_sha1"),
        ("argon2$bar", "argon2"),
        ("bcrypt_sha256$", "bcrypt_sha256"),
        ("scrypt", "scrypt"),
        ("default", "pbkdf2_sha256"),
        ("default$x", "pbkdf2_sha256"),
        ("bcrypt$x", nil),
        ("md5$x$y", nil),
        ("sha1$x$y", nil),
        ("unsalted_md5$x", nil),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nil),
        ("pbkdf2_sha256xxxxxxxxxxxxxxxxxxx", nil),
        ("md5$$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nil),
        ("md5$$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nil),
        ("sha1$$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", nil),
        ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", nil),
        ("", nil),
        ("!", nil),
        ("plain", nil),
        ("PBKDF2_SHA256$1$a$b", nil),
        ("$pbkdf2_sha256", nil),
        ("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}", nil),
    ]

    static let checks: [(stored: String, provided: String, expected: Bool)] = [
        ("pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$BlUr8cp2iCsmEV6Q2heh9veDkCnyzpdSKsbkoCXvrcA=", "s3cr3t", true),
        ("pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$BlUr8cp2iCsmEV6Q2heh9veDkCnyzpdSKsbkoCXvrcA=", "s3cr3tx", false),
        ("pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$BlUr8cp2iCsmEV6Q2heh9veDkCnyzpdSKsbkoCXvrcA=", "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$BlUr8cp2iCsmEV6Q2heh9veDkCnyzpdSKsbkoCXvrcA=", false),
        ("pbkdf2_sha1$1000$abcdefghijklmnopqrstuv$+vm0rJCsXaFmouQMIkk2E+iR14c=", "s3cr3t", true),
        ("pbkdf2_sha1$1000$abcdefghijklmnopqrstuv$+vm0rJCsXaFmouQMIkk2E+iR14c=", "nope", false),
        ("pbkdf2_sha256$foo", "pbkdf2_sha256$foo", true),
        ("pbkdf2_sha256$foo", "x", false),
        ("pbkdf2_sha256$x1$salt$hash", "pbkdf2_sha256$x1$salt$hash", true),
        ("pbkdf2_sha256$1000$$hash", "pbkdf2_sha256$1000$$hash", true),
        ("pbkdf2_sha256$-5$salt$hash", "pbkdf2_sha256$-5$salt$hash", true),
        ("pbkdf2_sha256$01000$abcdefghijklmnopqrstuv$BlUr8cp2iCsmEV6Q2heh9veDkCnyzpdSKsbkoCXvrcA=", "s3cr3t", false),
        ("argon2$bar", "argon2$bar", true),
        ("argon2$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "x", false),
        ("bcrypt_sha256$$2b$12$abc", "bcrypt_sha256$$2b$12$abc", true),
        ("scrypt", "scrypt", true),
        ("scrypt$1$2", "scrypt$1$2", true),
        ("plainsecret", "plainsecret", true),
        ("plainsecret", "plainsecreT", false),
        ("", "", true),
        ("", "x", false),
        ("!unusable", "!unusable", true),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true),
        ("default$foo", "default$foo", true),
        ("md5$$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "md5$$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true),
        ("sha1$$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "x", false),
    ]

    @Test("identify_hasher, incl. unsalted md5/sha1 shapes and 'default'")
    func identify() {
        for (value, algorithm) in Self.identified {
            #expect(PasswordHasherRegistry.djangoDefault.identify(value) == algorithm, "\(value)")
            #expect(PasswordHasherRegistry.djangoDefault.looksHashed(value) == (algorithm != nil))
        }
    }

    @Test("a registry listing unsalted_md5 recognises the 32-character shape")
    func customRegistry() {
        let registry = PasswordHasherRegistry(algorithms: ["pbkdf2_sha256", "unsalted_md5"])
        #expect(registry.identify(String(repeating: "a", count: 32)) == "unsalted_md5")
        #expect(registry.identify("md5$$" + String(repeating: "a", count: 32)) == "unsalted_md5")
        #expect(registry.identify("argon2$x") == nil)
    }

    @Test("_check_secret matches DOT for hashed, malformed and plaintext stored values")
    func checkSecret() {
        for check in Self.checks {
            #expect(
                PasswordHasherRegistry.djangoDefault.checkClientSecret(provided: check.provided, stored: check.stored)
                    == check.expected, "stored \(check.stored.prefix(30))")
        }
    }

    @Test("pre_save: hash unless off or already hashed")
    func storedSecret() throws {
        let registry = PasswordHasherRegistry.djangoDefault
        let hasher = DjangoPasswordHasher(iterations: 1000)
        #expect(try registry.storedClientSecret("plain", hashClientSecret: false, hasher: hasher) == "plain")
        #expect(try registry.storedClientSecret("argon2$bar", hashClientSecret: true, hasher: hasher) == "argon2$bar")
        #expect(try registry.storedClientSecret("scrypt", hashClientSecret: true, hasher: hasher) == "scrypt")
        let hashed = try registry.storedClientSecret("plain", hashClientSecret: true, hasher: hasher)
        #expect(hashed.hasPrefix("pbkdf2_sha256$1000$"))
        #expect(registry.checkClientSecret(provided: "plain", stored: hashed))
    }
}
