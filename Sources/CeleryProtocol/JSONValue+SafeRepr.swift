import PythonCompat

extension JSONValue {
    /// Celery's `saferepr(value, maxlen, maxlevels)` (`celery/utils/saferepr.py`), which fills the `argsrepr` and
    /// `kwargsrepr` headers (`saferepr(args, 1024, maxlevels=3)` in `celery/app/amqp.py`).
    ///
    /// It differs from ``pythonRepr``: strings are always single-quoted with only `'` escaped (as `\'`), nothing else
    /// is escaped; strings and numbers longer than the remaining budget are cut at the last space with `...`; once the
    /// budget is spent the output ends with `, ...` and the open brackets are closed; containers nested `maxLevels`
    /// deep print as `[...]`/`{...}`. Lengths count Unicode code points, as Python's `len` does.
    ///
    /// - Parameters:
    ///   - maxLength: Celery's `maxlen` budget; `nil` for none.
    ///   - maxLevels: Celery's `maxlevels`; `0` for no limit.
    public func celerySafeRepr(maxLength: Int? = 1024, maxLevels: Int = 3) -> String {
        var writer = SafeReprWriter(remaining: maxLength, maxLevels: maxLevels)
        writer.visit(self, level: 0)
        return writer.out
    }
}

/// A port of Celery's token-stream `_saferepr`: every token is checked against the remaining budget before it is
/// written; when the budget is gone, closing brackets still pass, and anything else ends the output with `, ...`
/// followed by the closers of the containers still open.
private struct SafeReprWriter {
    var out = ""
    var remaining: Int?
    let maxLevels: Int
    var stopped = false
    var openClosers: [String] = []

    init(remaining: Int?, maxLevels: Int) {
        self.remaining = remaining
        self.maxLevels = maxLevels
    }

    private enum Token {
        case open(String, closer: String)
        case close(String)
        case separator(String)
        case placeholder(String)  // "[...]" for a container past maxLevels
        case quoted(String)
        case key(String)
        case text(String)
    }

    mutating func visit(_ value: JSONValue, level: Int) {
        switch value {
        case .array(let elements):
            if maxLevels > 0 && level >= maxLevels {
                emit(.placeholder("[...]"))
                return
            }
            emit(.open("[", closer: "]"))
            for (i, element) in elements.enumerated() {
                guard !stopped else { return }
                visit(element, level: level + 1)
                if i < elements.count - 1 { emit(.separator(", ")) }
            }
            emit(.close("]"))
        case .object(let object):
            if maxLevels > 0 && level >= maxLevels {
                emit(.placeholder("{...}"))
                return
            }
            emit(.open("{", closer: "}"))
            let members = object.members
            for (i, member) in members.enumerated() {
                guard !stopped else { return }
                emit(.key(member.key))
                emit(.separator(": "))
                visit(member.value, level: level + 1)
                if i < members.count - 1 { emit(.separator(", ")) }
            }
            emit(.close("}"))
        case .string(let s):
            emit(.quoted(s))
        case .null:
            emit(.text("None"))
        case .bool(let b):
            emit(.text(b ? "True" : "False"))
        case .int(let i):
            emit(.text(String(i)))
        case .double(let d):
            emit(.text(PythonFloat.repr(d)))
        }
    }

    private mutating func emit(_ token: Token) {
        guard !stopped else { return }
        if let remaining, remaining <= 0 {
            if case .close(let closer) = token {
                out += closer
                openClosers.removeLast()
                return
            }
            // `, ...` then the closers of every container still open, innermost first.
            out += ", ..."
            for closer in openClosers.reversed() { out += closer }
            stopped = true
            return
        }
        let text: String
        switch token {
        case .open(let opener, let closer):
            openClosers.append(closer)
            text = opener
        case .close(let closer):
            openClosers.removeLast()
            text = closer
        case .separator(let s), .placeholder(let s):
            text = s
        case .quoted(let s):
            text = SafeReprWriter.quote(s, maxLength: remaining)
        case .key(let s):
            // Celery runs a nested saferepr on each key with the current budget.
            text = SafeReprWriter.quote(s, maxLength: remaining)
        case .text(let s):
            text = SafeReprWriter.truncate(s, maxLength: remaining)
        }
        out += text
        if remaining != nil { self.remaining! -= text.unicodeScalars.count }
    }

    /// `"'{}'".format(truncate(val, maxlen).replace("'", "\\'"))`
    private static func quote(_ s: String, maxLength: Int?) -> String {
        var result = "'"
        for scalar in truncate(s, maxLength: maxLength).unicodeScalars {
            if scalar == "'" { result += "\\'" } else { result.unicodeScalars.append(scalar) }
        }
        return result + "'"
    }

    /// Celery's `truncate`: `s[:maxlen].rsplit(' ', 1)[0] + '...'` when `len(s) >= maxlen`.
    private static func truncate(_ s: String, maxLength: Int?) -> String {
        guard let maxLength, maxLength != 0 else { return s }
        let scalars = s.unicodeScalars
        guard scalars.count >= maxLength else { return s }
        // A negative maxlen slices from the end in Python; the budget is positive whenever a token is written.
        let end = maxLength > 0 ? scalars.index(scalars.startIndex, offsetBy: maxLength) : scalars.startIndex
        var head = scalars[..<end]
        if let space = head.lastIndex(of: " ") { head = head[..<space] }
        return String(String.UnicodeScalarView(head)) + "..."
    }
}
