import Testing

@testable import CeleryProtocol

@Suite struct PythonReprTests {
    @Test(arguments: [
        (JSONValue.array([1, "two"]), "[1, 'two']"),
        (JSONValue.object(["dry_run": true]), "{'dry_run': True}"),
        (nil, "None"),
        (false, "False"),
        ("it's", #""it's""#),
        (#"say "hi""#, #"'say "hi"'"#),
        (#"both ' ""#, #"'both \' "'"#),
        ("back\\slash", #"'back\\slash'"#),
        ("tab\tnl\ncr\r", #"'tab\tnl\ncr\r'"#),
        ("\u{0}\u{1f}\u{7f}", #"'\x00\x1f\x7f'"#),
        ("é中文😀", "'é中文😀'"),
        ("\u{85}\u{a0}\u{ad}", #"'\x85\xa0\xad'"#),
        ("\u{200b}\u{2028}\u{e000}", #"'\u200b\u2028\ue000'"#),
        ("\u{F0000}", #"'\U000f0000'"#),
        (JSONValue.array([1.0, 1e100, 1e-5, 0.0001, -0.0, 1e16, 123456789.125]), "[1.0, 1e+100, 1e-05, 0.0001, -0.0, 1e+16, 123456789.125]"),
        (JSONValue.object(["a": ["b": [.object([:]), []]]]), "{'a': {'b': [{}, []]}}"),
        (.double(.nan), "nan"),
        (.double(-.infinity), "-inf"),
    ])
    func pythonRepr(_ value: JSONValue, _ expected: String) {
        #expect(value.pythonRepr == expected)
    }

    @Test func saferepDiffersFromReprLikeCelery() {
        let value: JSONValue = ["it's", "a\nb", ["x": [[1]]]]
        #expect(value.pythonRepr == #"["it's", 'a\nb', {'x': [[1]]}]"#)
        // saferepr: always single quotes with \' ; no other escaping; nesting past 3 levels elided.
        #expect(value.celerySafeRepr() == "['it\\'s', 'a\nb', {'x': [[...]]}]")
    }

    @Test func safeReprMatchesCeleryTruncation() throws {
        for vector in safeReprVectors {
            let value = try JSONValue.parse(vector.json).get()
            #expect(
                value.celerySafeRepr(maxLength: vector.maxLength, maxLevels: vector.maxLevels) == vector.expected,
                "saferepr(\(vector.json.prefix(60)), \(vector.maxLength), \(vector.maxLevels))"
            )
        }
    }

    @Test func safeReprWithoutLimits() {
        let long = JSONValue.array(Array(repeating: "word word", count: 300))
        #expect(long.celerySafeRepr(maxLength: nil, maxLevels: 0) == long.pythonRepr)
    }
}
