import CeleryProtocol
import Testing

@Suite("printable text for logs and terminals")
struct PrintableTextTests {
    @Test("C0, DEL and C1 controls are shown as \\xNN; other text, emoji included, is kept")
    func escapes() {
        #expect(PrintableText.escaped("a\nb\u{1B}[31mc\u{7F}d\u{9B}e é 🙂") == "a\\x0ab\\x1b[31mc\\x7fd\\x9be é 🙂")
    }

    @Test("cut at the limit with an ellipsis; nil keeps everything; a million characters is quick")
    func limit() {
        #expect(PrintableText.escaped(String(repeating: "x", count: 101)) == String(repeating: "x", count: 100) + "…")
        #expect(PrintableText.escaped(String(repeating: "x", count: 100)) == String(repeating: "x", count: 100))
        #expect(PrintableText.escaped("abc", limit: nil) == "abc")
        let long = String(repeating: "\u{1}", count: 1_000_000)
        #expect(PrintableText.escaped(long).hasSuffix("…"))
        #expect(PrintableText.escaped(long, limit: nil).utf8.count == 4_000_000)
    }

    @Test("TaskTriage.quoted wraps the same text in quotes")
    func quoted() {
        #expect(TaskTriage.quoted("x\ny") == "'x\\x0ay'")
    }
}
