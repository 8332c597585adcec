import PythonCompat

extension JSONValue {
    /// Python's `repr()` of the value `json.loads` would produce: `None`, `True`/`False`, ints, floats as
    /// `float.__repr__` (`1.0`, `1e+100`), strings quoted and escaped as `str.__repr__` does (single quotes unless the
    /// text has `'` and no `"`; `\\`, `\n`, `\r`, `\t`; other non-printable characters as `\xNN`, `\uNNNN`,
    /// `\UNNNNNNNN`), lists `[1, 'two']` and dicts `{'dry_run': True}`.
    ///
    /// "Printable" follows `str.isprintable`, read from the Unicode general category of this Swift runtime, so
    /// characters assigned after the Python build's Unicode version may differ.
    ///
    /// Note that Celery's `argsrepr`/`kwargsrepr` headers are *not* `repr` but `saferepr`; see ``celerySafeRepr(maxLength:maxLevels:)``.
    public var pythonRepr: String {
        var out = ""
        writeRepr(to: &out)
        return out
    }

    private func writeRepr(to out: inout String) {
        switch self {
        case .null: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .double(let d): out += PythonFloat.repr(d)
        case .string(let s): JSONValue.writeStringRepr(s, to: &out)
        case .array(let elements):
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += ", " }
                element.writeRepr(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, member) in object.members.enumerated() {
                if i > 0 { out += ", " }
                JSONValue.writeStringRepr(member.key, to: &out)
                out += ": "
                member.value.writeRepr(to: &out)
            }
            out += "}"
        }
    }

    /// `str.__repr__`, from the one Python-compatibility module.
    static func writeStringRepr(_ s: String, to out: inout String) {
        out += PythonString.repr(s)
    }
}
