import PythonCompat

/// The algorithm names of Django's `PASSWORD_HASHERS`, and the two secret rules DOT builds on them:
/// "does this value already look hashed" (`identify_hasher`) and the client-secret check (`_check_secret`).
public struct PasswordHasherRegistry: Sendable, Hashable {
    /// Django 5.2's default `PASSWORD_HASHERS`, by algorithm name, in order.
    public static let djangoDefault = PasswordHasherRegistry(algorithms: [
        "pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "scrypt",
    ])

    /// The algorithm names, first = Django's `"default"` hasher.
    public var algorithms: [String]

    /// - Parameter algorithms: the hasher algorithm names of `PASSWORD_HASHERS`, in order.
    public init(algorithms: [String]) {
        self.algorithms = algorithms
    }

    /// Django's `identify_hasher(encoded)`: the algorithm name of the hasher `encoded` names, or nil where
    /// Django raises `ValueError` (the value does not look hashed).
    ///
    /// The name is the text before the first `$` (all of it when there is none), except three legacy
    /// shapes: 32 characters without `$` or `md5$$` + 32 (37 characters) mean `unsalted_md5`, and
    /// `sha1$$` + 40 (46 characters) means `unsalted_sha1`; neither is in the default list. The name
    /// `default` resolves to the first hasher, as Django's `get_hasher("default")` does.
    public func identify(_ encoded: String) -> String? {
        let length = PythonString.length(encoded)
        let name: String
        if (length == 32 && !encoded.unicodeScalars.contains("$")) || (length == 37 && encoded.hasPrefix("md5$$")) {
            name = "unsalted_md5"
        } else if length == 46 && encoded.hasPrefix("sha1$$") {
            name = "unsalted_sha1"
        } else {
            name = PythonString.split(encoded, separator: "$", maxSplits: 1)[0]
        }
        if name == "default" { return algorithms.first }
        return algorithms.contains(name) ? name : nil
    }

    /// Whether DOT treats `secret` as already hashed, so stores it verbatim even with hashing on.
    public func looksHashed(_ secret: String) -> Bool {
        identify(secret) != nil
    }

    /// The value DOT's `ClientSecretField.pre_save` stores: `secret` unchanged when hashing is off or it
    /// already looks hashed, else `make_password(secret)` with a fresh salt.
    /// - Throws: ``PasswordHashError`` when the hasher's iteration count is out of range.
    public func storedClientSecret(_ secret: String, hashClientSecret: Bool, hasher: DjangoPasswordHasher) throws(PasswordHashError) -> String {
        guard hashClientSecret, !looksHashed(secret) else { return secret }
        return try hasher.makePassword(secret)
    }

    /// DOT's `OAuth2Validator._check_secret(provided, stored)`.
    ///
    /// A stored value that does not look hashed is compared as plaintext in constant time. A
    /// `pbkdf2_sha256`/`pbkdf2_sha1` value is verified with its own salt and iteration count; where
    /// Django's decoder raises `ValueError` (too few `$` parts, a bad count, an empty salt) DOT falls back
    /// to the plaintext comparison, and so does this. `argon2` and `bcrypt_sha256` values also fall back,
    /// matching a DOT install without `argon2-cffi`/`bcrypt` (the reference venv), where loading the
    /// library raises `ValueError`. Other well-formed hashes (`scrypt`, legacy unsalted) are not verified
    /// here and return false.
    public func checkClientSecret(provided: String, stored: String) -> Bool {
        guard let algorithm = identify(stored) else {
            return ConstantTime.equal(provided, stored)
        }
        let hasher: DjangoPasswordHasher
        switch algorithm {
        case "pbkdf2_sha256":
            hasher = DjangoPasswordHasher()
        case "pbkdf2_sha1":
            hasher = .pbkdf2SHA1()
        case "argon2", "bcrypt_sha256":
            return ConstantTime.equal(provided, stored)
        case "scrypt":
            // ScryptPasswordHasher.decode: encoded.split("$", 6) must give six parts.
            if PythonString.split(stored, separator: "$", maxSplits: 6).count != 6 {
                return ConstantTime.equal(provided, stored)
            }
            return false
        default:
            return false
        }
        // A "default$…" value decodes with the default hasher, whose name check then fails (false).
        if let verified = hasher.verifyDecoding(provided, encoded: stored) {
            return verified
        }
        return ConstantTime.equal(provided, stored)
    }
}
