/// Python 3.11's `ipaddress.ip_address` acceptance rules (strings only).
package enum PythonIPAddress {
    package enum Version { case v4, v6 }

    /// `.v4`/`.v6` when `IPv4Address(text)`/`IPv6Address(text)` accepts `text`, else nil.
    package static func parse(_ text: String) -> Version? {
        if isIPv4(text) { return .v4 }
        if isIPv6(text) { return .v6 }
        return nil
    }

    /// `IPv4Address(text)`: four dotted decimal octets, ASCII digits, at most 3 digits, no leading zero, ≤ 255.
    package static func isIPv4(_ text: String) -> Bool {
        guard !text.isEmpty, !text.contains("/") else { return false }
        let octets = PythonString.split(text, separator: ".", maxSplits: Int.max)
        guard octets.count == 4 else { return false }
        for octet in octets {
            guard !octet.isEmpty, octet.unicodeScalars.count <= 3,
                octet.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.numericType == .decimal })
            else { return false }
            if octet != "0" && octet.hasPrefix("0") { return false }
            guard let value = Int(octet), value <= 255 else { return false }
        }
        return true
    }

    /// `IPv6Address(text)`, including an optional `%scope` and a trailing dotted IPv4 part.
    package static func isIPv6(_ text: String) -> Bool {
        guard !text.contains("/") else { return false }
        var address = text
        if let percent = text.unicodeScalars.firstIndex(of: "%") {
            let scope = text.unicodeScalars[text.unicodeScalars.index(after: percent)...]
            if scope.isEmpty || scope.contains("%") { return false }
            address = String(text.unicodeScalars[..<percent])
        }
        guard !address.isEmpty else { return false }
        var parts = PythonString.split(address, separator: ":", maxSplits: Int.max)
        guard parts.count >= 3 else { return false }
        if parts[parts.count - 1].contains(".") {
            guard isIPv4(parts.removeLast()) else { return false }
            parts.append("0")
            parts.append("0")
        }
        guard parts.count <= 9 else { return false }
        var skipIndex: Int?
        if parts.count > 2 {
            for index in 1..<(parts.count - 1) where parts[index].isEmpty {
                if skipIndex != nil { return false }
                skipIndex = index
            }
        }
        var high: Int
        var low: Int
        if let skip = skipIndex {
            high = skip
            low = parts.count - skip - 1
            if parts[0].isEmpty {
                high -= 1
                if high != 0 { return false }
            }
            if parts[parts.count - 1].isEmpty {
                low -= 1
                if low != 0 { return false }
            }
            if 8 - (high + low) < 1 { return false }
        } else {
            guard parts.count == 8, !parts[0].isEmpty, !parts[7].isEmpty else { return false }
            high = parts.count
            low = 0
        }
        let hextets = Array(parts[..<high]) + Array(parts[(parts.count - low)...])
        return hextets.allSatisfy { hextet in
            !hextet.isEmpty && hextet.unicodeScalars.count <= 4
                && hextet.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isASCIIHexDigit }
        }
    }
}
