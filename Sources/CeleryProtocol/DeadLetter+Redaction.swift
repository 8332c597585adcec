extension DeadLetter {
    /// The kwargs whose values never reach the dead-letter list in clear (a sender-supplied client secret).
    public static let secretKeywords: Set<String> = ["client_secret"]
    /// What a redacted value reads as.
    public static let redactedValue = "**redacted**"

    /// `original` as it may be stored: the same bytes when no kwarg in ``secretKeywords`` is present;
    /// otherwise the same envelope with those kwargs' values replaced by ``redactedValue`` (body re-encoded as it
    /// was, base64 or plain JSON); and empty when the message does not decode far enough to find its kwargs but
    /// mentions a secret keyword (the bytes are withheld rather than stored with a secret in them).
    public static func redacted(_ original: [UInt8]) -> [UInt8] {
        guard case .success(.object(var envelope)) = JSONValue.parse(original),
            case .string(let bodyText)? = envelope["body"]
        else {
            return mentionsSecret(original) ? [] : original
        }
        let base64 = envelope["properties"]?.objectValue?["body_encoding"] == .string("base64")
        let bodyBytes = base64 ? Base64.decode(bodyText) : Array(bodyText.utf8)
        guard let bodyBytes else { return mentionsSecret(original) ? [] : original }
        guard case .success(.array(var parts)) = JSONValue.parse(bodyBytes), parts.count >= 2,
            case .object(var kwargs) = parts[1]
        else {
            return mentionsSecret(bodyBytes) || mentionsSecret(original) ? [] : original
        }
        var changed = false
        for key in secretKeywords where kwargs.contains(key) {
            kwargs[key] = .string(redactedValue)
            changed = true
        }
        guard changed else { return original }
        parts[1] = .object(kwargs)
        let body = JSONValue.array(parts).serialized()
        envelope["body"] = .string(base64 ? Base64.encode(body) : String(decoding: body, as: UTF8.self))
        return JSONValue.object(envelope).serialized()
    }

    /// Whether `bytes` contain one of the ``secretKeywords`` (a linear scan per keyword).
    static func mentionsSecret(_ bytes: [UInt8]) -> Bool {
        for keyword in secretKeywords {
            let needle = Array(keyword.utf8)
            guard let first = needle.first, bytes.count >= needle.count else { continue }
            var index = 0
            while index + needle.count <= bytes.count {
                if bytes[index] == first, bytes[index..<(index + needle.count)].elementsEqual(needle) { return true }
                index += 1
            }
        }
        return false
    }
}
