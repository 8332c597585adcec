internal import Crypto
internal import CryptoExtras
internal import Foundation
import PythonCompat

/// Django's default password hasher, `PBKDF2PasswordHasher` (`pbkdf2_sha256$<iterations>$<salt>$<base64>`),
/// which DOT uses for `Application.client_secret` (`CLIENT_SECRET_HASHER = "default"`).
///
/// PBKDF2-HMAC-SHA256 comes from swift-crypto; the password and the salt are their UTF-8 bytes, and the
/// 32-byte key is written as standard, padded base64 (44 characters). Verification recomputes the whole
/// encoded string with the stored salt and iteration count and compares it in constant time, so any
/// iteration count verifies (old hashes are never upgraded, as in DOT).
public struct DjangoPasswordHasher: Sendable {
    /// Django 5.2's iteration count for new hashes.
    public static let defaultIterations = 1_000_000
    /// The length of a new salt: ceil(128 / log2(62)) = 22 characters from `[a-zA-Z0-9]`.
    public static let saltLength = 22
    /// Below this swift-crypto's checked `rounds:` API throws; lower counts use `unsafeUncheckedRounds:`.
    static let checkedRoundsMinimum = 210_000

    /// The hash function's name in the encoded string.
    public let algorithm: String
    /// The iteration count for new hashes.
    public var iterations: Int
    private let hashFunction: KDF.Insecure.PBKDF2.HashFunction
    private let digestByteCount: Int

    /// The `pbkdf2_sha256` hasher.
    /// - Parameter iterations: the count for new hashes; 1,000,000 (Django 5.2) unless a test wants less.
    public init(iterations: Int = DjangoPasswordHasher.defaultIterations) {
        self.init(algorithm: "pbkdf2_sha256", hashFunction: .sha256, digestByteCount: 32, iterations: iterations)
    }

    /// Django's `PBKDF2SHA1PasswordHasher` (`pbkdf2_sha1`, 20-byte key), second in the default
    /// `PASSWORD_HASHERS`; only needed to verify such stored hashes.
    public static func pbkdf2SHA1(iterations: Int = DjangoPasswordHasher.defaultIterations) -> DjangoPasswordHasher {
        DjangoPasswordHasher(algorithm: "pbkdf2_sha1", hashFunction: .insecureSHA1, digestByteCount: 20, iterations: iterations)
    }

    private init(algorithm: String, hashFunction: KDF.Insecure.PBKDF2.HashFunction, digestByteCount: Int, iterations: Int) {
        self.algorithm = algorithm
        self.hashFunction = hashFunction
        self.digestByteCount = digestByteCount
        self.iterations = iterations
    }

    // MARK: - Encoding

    /// Django's `make_password(secret)`: hashes with a fresh 22-character salt from the system CSPRNG.
    /// - Throws: ``PasswordHashError`` when ``iterations`` is out of range.
    public func makePassword(_ secret: String) throws(PasswordHashError) -> String {
        var rng = SystemRandomNumberGenerator()
        return try makePassword(secret, using: &rng)
    }

    /// `make_password(secret)` with salt characters drawn from `generator`.
    public func makePassword(_ secret: String, using generator: inout some RandomNumberGenerator) throws(PasswordHashError) -> String {
        let salt = AlphanumericGenerator().string(length: Self.saltLength, using: &generator)
        return try encode(secret, salt: salt)
    }

    /// Django's `hasher.encode(secret, salt, iterations)`.
    /// - Parameters:
    ///   - secret: the plaintext; its UTF-8 bytes are the PBKDF2 password.
    ///   - salt: non-empty, without `$`; its UTF-8 bytes are the PBKDF2 salt.
    ///   - iterations: defaults to ``iterations``.
    /// - Returns: `<algorithm>$<iterations>$<salt>$<base64 key>`.
    /// - Throws: ``PasswordHashError`` for an empty salt, a salt containing `$`, or a count outside 1...UInt32.max.
    public func encode(_ secret: String, salt: String, iterations: Int? = nil) throws(PasswordHashError) -> String {
        guard !salt.isEmpty, !salt.contains("$") else { throw PasswordHashError(code: .invalidSalt) }
        let rounds = iterations ?? self.iterations
        guard rounds >= 1, rounds <= Int(UInt32.max) else { throw PasswordHashError(code: .invalidIterations) }
        let key: SymmetricKey
        do {
            if rounds >= Self.checkedRoundsMinimum {
                key = try KDF.Insecure.PBKDF2.deriveKey(
                    from: Array(secret.utf8), salt: Array(salt.utf8), using: hashFunction,
                    outputByteCount: digestByteCount, rounds: rounds)
            } else {
                key = try KDF.Insecure.PBKDF2.deriveKey(
                    from: Array(secret.utf8), salt: Array(salt.utf8), using: hashFunction,
                    outputByteCount: digestByteCount, unsafeUncheckedRounds: rounds)
            }
        } catch {
            throw PasswordHashError(code: .derivationFailed)
        }
        let hash = key.withUnsafeBytes { Data($0).base64EncodedString() }
        return "\(algorithm)$\(rounds)$\(salt)$\(hash)"
    }

    // MARK: - Verification

    /// Django's `check_password(secret, encoded)` for an `encoded` string of this hasher.
    /// - Returns: true iff the recomputed string equals `encoded` (constant-time comparison); false for
    ///   a wrong secret and for anything that does not decode.
    public func verify(_ secret: String, encoded: String) -> Bool {
        verifyDecoding(secret, encoded: encoded) ?? false
    }

    /// `verify`, but nil where Django's hasher raises `ValueError` (too few `$` parts, an iteration
    /// count `int()` refuses, an empty salt, a negative count), which DOT turns into a plaintext comparison.
    func verifyDecoding(_ secret: String, encoded: String) -> Bool? {
        // algorithm, iterations, salt, hash = encoded.split("$", 3)
        let parts = PythonString.split(encoded, separator: "$", maxSplits: 3)
        guard parts.count == 4 else { return nil }
        guard parts[0] == algorithm else { return false }  // Django asserts here; never equal in practice
        guard let parsed = PythonInteger(parsing: parts[1]) else { return nil }
        let salt = parts[2]
        guard !salt.isEmpty else { return nil }
        // `iterations = iterations or self.iterations`: a stored 0 means the class default.
        var rounds = parsed.isZero ? Self.defaultIterations : 0
        if !parsed.isZero {
            guard !parsed.isNegative else { return nil }  // hashlib: "iteration value must be greater than 0."
            guard let value = parsed.int32Value.map(Int.init) ?? Int(parsed.canonicalDecimal), value <= Int(UInt32.max) else {
                return false
            }
            rounds = value
        }
        guard let recomputed = try? encode(secret, salt: salt, iterations: rounds) else { return false }
        return ConstantTime.equal(recomputed, encoded)
    }
}
