/// Text that came from outside (a message, a key another process wrote) made safe for a log line or a terminal:
/// control characters (C0, DEL, C1) shown as `\xNN`, so that no sender can forge log lines or send terminal
/// escape sequences. Linear in the input; at most `limit` characters are kept (then `…`).
public enum PrintableText {
    /// `text` with control characters escaped, cut to `limit` Unicode scalars (nil: no cut).
    public static func escaped(_ text: String, limit: Int? = 100) -> String {
        var result = ""
        let scalars = text.unicodeScalars
        var kept = 0
        for scalar in scalars {
            if let limit, kept >= limit { return result + "…" }
            kept += 1
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                let hex = String(scalar.value, radix: 16)
                result += (hex.count == 1 ? "\\x0" : "\\x") + hex
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
