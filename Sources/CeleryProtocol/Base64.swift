/// Standard base64 (RFC 4648 §4, with `=` padding), as Python's `base64.b64encode`/`b64decode` use it.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            if let b1 {
                out.append(alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)])
            } else {
                out.append(UInt8(ascii: "="))
            }
            if let b2 {
                out.append(alphabet[Int(b2 & 0x3F)])
            } else {
                out.append(UInt8(ascii: "="))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes padded base64. ASCII whitespace is skipped; any other byte outside the alphabet, bad padding or a
    /// length that is not a multiple of four gives `nil`. (Python's non-validating `b64decode` also drops stray
    /// characters; kombu never writes any, so they are treated as corruption here.)
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        var quad: UInt32 = 0
        var count = 0
        var padding = 0
        for c in text.utf8 {
            switch c {
            case 0x20, 0x09, 0x0A, 0x0D:
                continue
            case UInt8(ascii: "="):
                padding += 1
                // Padding may only fill the last one or two positions of a quad.
                guard padding <= 2, count % 4 >= 2 else { return nil }
                quad <<= 6
                count += 1
            default:
                guard padding == 0 else { return nil }
                let v = decodeTable[Int(c)]
                guard v != 0xFF else { return nil }
                quad = quad << 6 | UInt32(v)
                count += 1
            }
            if count % 4 == 0 {
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                if padding < 2 { out.append(UInt8(truncatingIfNeeded: quad >> 8)) }
                if padding < 1 { out.append(UInt8(truncatingIfNeeded: quad)) }
                quad = 0
                if padding > 0 { padding = 3 }  // nothing may follow a padded quad
            }
        }
        guard count % 4 == 0, padding == 0 || padding == 3 || count == 0 else { return nil }
        return out
    }
}
