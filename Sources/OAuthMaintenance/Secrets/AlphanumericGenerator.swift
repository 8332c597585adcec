/// Random strings over DOT's 62-character alphabet `[A-Za-z0-9]`, drawn without modulo bias.
///
/// DOT draws client ids, client secrets and Django salts with `SystemRandom.choice` over this alphabet
/// (oauthlib's `UNICODE_ASCII_CHARACTER_SET`; Django's `RANDOM_STRING_CHARS` has the same 62 characters).
/// Here each character comes from one 6-bit field of a whole `UInt64` word from the generator: a field
/// of 62 or 63 is rejected, so every character is uniform. One word yields up to ten characters, so a
/// 128-character secret costs about 14 `getrandom` calls with `SystemRandomNumberGenerator`.
public struct AlphanumericGenerator: Sendable {
    /// The alphabet, in oauthlib's order (lower case, upper case, digits).
    public static let alphabet: [UInt8] = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)

    /// Creates a generator. It holds no state: randomness comes from the generator passed to each call.
    public init() {}

    /// Returns `length` uniform random characters from ``alphabet``.
    /// - Parameters:
    ///   - length: the number of characters, zero or more.
    ///   - generator: the source of random words; production code passes `SystemRandomNumberGenerator`.
    /// - Returns: an ASCII string of exactly `length` characters.
    public func string(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        precondition(length >= 0, "length must not be negative")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        while bytes.count < length {
            var word = generator.next() as UInt64
            // Ten 6-bit fields per word (60 bits); the top 4 bits are discarded.
            for _ in 0..<10 where bytes.count < length {
                let field = Int(word & 0x3F)
                word >>= 6
                if field < 62 {
                    bytes.append(Self.alphabet[field])
                }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Returns `length` characters from the system CSPRNG.
    public func string(length: Int) -> String {
        var rng = SystemRandomNumberGenerator()
        return string(length: length, using: &rng)
    }
}
