import Foundation
import Testing

@testable import CeleryProtocol

@Suite struct JSONValueTests {
    private func parse(_ s: String) -> Result<JSONValue, JSONParseError> { JSONValue.parse(s) }

    @Test func parsesScalarsAndKeepsIntFloatDistinct() throws {
        #expect(try parse("null").get() == .null)
        #expect(try parse(" true ").get() == .bool(true))
        #expect(try parse("false").get() == .bool(false))
        #expect(try parse("1").get() == .int(1))
        #expect(try parse("1.0").get() == .double(1.0))
        #expect(try parse("1e2").get() == .double(100))
        #expect(try parse("-0").get() == .int(0))
        #expect(try parse("-9223372036854775808").get() == .int(.min))
        #expect(try parse("9223372036854775807").get() == .int(.max))
        #expect(try parse("1E-2").get() == .double(0.01))
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t""#).get() == .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        #expect(try parse(#""\u00e9\ud83d\ude00""#).get() == .string("é😀"))
        #expect(try parse("\"é😀\"").get() == .string("é😀"))
        #expect(JSONValue.int(1) != JSONValue.double(1.0))
    }

    @Test func keepsKeyOrderAndPythonDuplicateSemantics() throws {
        let v = try parse(#"{"b": 1, "a": 2, "b": 3}"#).get()
        #expect(v.objectValue?.keys == ["b", "a"])
        #expect(v["b"] == .int(3))
        #expect(v.jsonString == #"{"b": 3, "a": 2}"#)
        // Large objects switch to an index; semantics stay the same.
        let many = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        let big = try parse("{" + many + #", "k5": "x", "k39": null}"#).get()
        #expect(big.objectValue?.count == 40)
        #expect(big["k5"] == "x")
        #expect(big.objectValue?.keys.last == "k39")
        #expect(big["k39"] == .null)
    }

    @Test(arguments: [
        ("", JSONParseError.Code.unexpectedEnd),
        ("[1,", .unexpectedEnd),
        ("[1 2]", .unexpectedByte),
        ("{\"a\" 1}", .unexpectedByte),
        ("{1: 2}", .unexpectedByte),
        ("[1,]", .unexpectedByte),
        ("01", .trailingData),
        ("1.", .unexpectedEnd),
        ("1.e3", .unexpectedByte),
        ("-", .unexpectedEnd),
        ("+1", .unexpectedByte),
        ("tru", .unexpectedEnd),
        ("nul1", .unexpectedByte),
        ("NaN", .unexpectedByte),
        ("Infinity", .unexpectedByte),
        ("-Infinity", .unexpectedByte),
        ("1e400", .numberOutOfRange),
        ("9223372036854775808", .numberOutOfRange),
        ("-9223372036854775809", .numberOutOfRange),
        ("123456789012345678901234567890", .numberOutOfRange),
        ("\"a\u{1}b\"", .controlCharacter),
        ("\"a\nb\"", .controlCharacter),
        (#""\x41""#, .invalidEscape),
        (#""\u12G4""#, .invalidEscape),
        (#""\ud800""#, .loneSurrogate),
        (#""\ud800\u0041""#, .loneSurrogate),
        (#""\udc00""#, .loneSurrogate),
        ("\"abc", .unexpectedEnd),
        ("[] []", .trailingData),
        ("\u{FEFF}[]", .unexpectedByte),
    ])
    func rejectsInvalidJSON(_ text: String, _ code: JSONParseError.Code) {
        switch parse(text) {
        case .success(let v): Issue.record("accepted \(text.debugDescription) as \(v)")
        case .failure(let e): #expect(e.code == code, "\(text.debugDescription): \(e)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xC0, 0xAF, 0x22]] {
            #expect(throws: JSONParseError(code: .invalidUTF8, offset: 1)) { try JSONValue.parse(bytes).get() }
        }
        // Outside strings, non-ASCII is simply an unexpected byte.
        #expect(throws: JSONParseError(code: .unexpectedByte, offset: 1)) { try JSONValue.parse([0x5B, 0xFF, 0x5D]).get() }
        // An escaped string with bad raw bytes after the escape.
        #expect(throws: JSONParseError(code: .invalidUTF8, offset: 1)) {
            try JSONValue.parse([0x22, 0x5C, 0x6E, 0xFF, 0x22]).get()
        }
    }

    @Test func limitsDepth() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try parse(ok).get() }
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: JSONParseError(code: .tooDeep, offset: 64)) { try parse(deep).get() }
        // Far deeper than any stack would allow if the limit were missing.
        let hostile = String(repeating: "{\"a\":[", count: 200_000)
        #expect(throws: JSONParseError(code: .tooDeep, offset: 32 * 6)) { try parse(hostile).get() }
    }

    @Test func serializesLikePythonJSONDumps() {
        let value: JSONValue = [
            "s": "é😀\u{0}\u{1f}\u{7f}\u{2028}\"\\/\u{8}\u{c}\n\r\t", "f": [1.0, 1e100, 1e-5, -0.0, 0.1, 1e16, 1e15],
            "n": nil, "b": [true, false], "i": [.int(.min), .int(.max)], "e": [[:], []],
        ]
        #expect(
            value.jsonString
                == #"{"s": "\u00e9\ud83d\ude00\u0000\u001f\u007f\u2028\"\\/\b\f\n\r\t", "f": [1.0, 1e+100, 1e-05, -0.0, 0.1, 1e+16, 1000000000000000.0], "n": null, "b": [true, false], "i": [-9223372036854775808, 9223372036854775807], "e": [{}, []]}"#
        )
        // Non-finite floats as Python's json.dumps writes them.
        #expect(JSONValue.array([.double(.nan), .double(.infinity), .double(-.infinity)]).jsonString == "[NaN, Infinity, -Infinity]")
    }

    @Test func matchesPythonVectors() throws {
        for vector in pythonVectors {
            let value = try parse(vector.json).get()
            #expect(value.jsonString == vector.dumps, "dumps of \(vector.json)")
            #expect(value.pythonRepr == vector.repr, "repr of \(vector.json)")
            #expect(value.celerySafeRepr() == vector.saferepr, "saferepr of \(vector.json)")
            #expect(try parse(value.jsonString).get() == value)
        }
    }

    @Test func floatsMatchPythonRepr() {
        for (bits, expected) in floatVectors {
            let x = Double(bitPattern: bits)
            #expect(JSONValue.double(x).pythonRepr == expected, "bits \(String(bits, radix: 16))")
            #expect(JSONValue.double(x).jsonString == expected)
            if case .success(.double(let back)) = JSONValue.parse(expected) {
                #expect(back.bitPattern == x.bitPattern || (back == 0 && x == 0))
            } else {
                Issue.record("Python's repr \(expected) did not parse back")
            }
        }
    }

    @Test func roundTripsArbitraryValues() throws {
        var rng = SplitMix(seed: 42)
        for _ in 0..<300 {
            let value = randomValue(depth: 0, using: &rng)
            let bytes = value.serialized()
            let back = try JSONValue.parse(bytes).get()
            #expect(back == value)
            #expect(back.serialized() == bytes)
        }
    }

    @Test func codableRoundTripThroughFoundation() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", nil, true], "b": ["c": "d"]]
        let data = try JSONEncoder().encode(value)
        let back = try JSONDecoder().decode(JSONValue.self, from: data)
        // Foundation does not keep key order; compare member sets.
        #expect(back["a"] == value["a"])
        #expect(back["b"] == value["b"])
    }

    private func randomValue(depth: Int, using rng: inout SplitMix) -> JSONValue {
        let pick = depth > 4 ? Int.random(in: 0..<5, using: &rng) : Int.random(in: 0..<7, using: &rng)
        switch pick {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int(Int64.random(in: .min ... .max, using: &rng))
        case 3:
            let d = Double(bitPattern: UInt64.random(in: 0 ... .max, using: &rng))
            return .double(d.isFinite ? d : 0.5)
        case 4:
            let scalars = (0..<Int.random(in: 0..<8, using: &rng)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &rng))
            }
            return .string(String(String.UnicodeScalarView(scalars)))
        case 5: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in randomValue(depth: depth + 1, using: &rng) })
        default:
            var o = JSONObject()
            for i in 0..<Int.random(in: 0..<4, using: &rng) { o["k\(i)\u{e9}"] = randomValue(depth: depth + 1, using: &rng) }
            return .object(o)
        }
    }
}

/// A small deterministic generator for reproducible tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
