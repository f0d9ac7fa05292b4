import XCTest
import STSCore

final class JSONTests: XCTestCase {
    func roundTrip(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let value = try JSONParser.parse(text)
        XCTAssertEqual(JSONWriter.string(value), text, file: file, line: line)
    }

    func testRoundTripKeepsOrderAndNumberText() throws {
        try roundTrip(#"{"z":1,"a":2,"m":[1.50,-0,2e10,1E-3],"id":"x"}"#)
        try roundTrip(#"{"nested":{"b":true,"a":false,"n":null},"s":"ünïcødé ✓"}"#)
        try roundTrip("[]")
        try roundTrip("{}")
        try roundTrip(#""just a string""#)
        try roundTrip("12345678901234567890123")
    }

    func testWhitespaceIsAllowedAroundTokens() throws {
        let value = try JSONParser.parse(" \t{ \"a\" : [ 1 , 2 ] }\r\n")
        XCTAssertEqual(JSONWriter.string(value), #"{"a":[1,2]}"#)
    }

    func testEscapes() throws {
        let value = try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#)
        XCTAssertEqual(value.stringValue, "a\"b\\c/d\u{8}\u{c}\n\r\té😀")
        XCTAssertEqual(JSONWriter.string(value), #""a\"b\\c/d\u0008\u000c\n\r\té😀""#)
    }

    func testWriterEscapesEveryControlCharacter() {
        for byte in UInt8(0)..<0x20 {
            let text = JSONWriter.string(.string(String(UnicodeScalar(byte))))
            XCTAssertFalse(text.utf8.contains(where: { $0 < 0x20 }), "byte \(byte) written raw")
            XCTAssertEqual(try JSONParser.parse(text).stringValue, String(UnicodeScalar(byte)))
        }
        XCTAssertEqual(JSONWriter.string(.string("\u{7F}")), #""\u007f""#)
    }

    func testDuplicateKeysKeepTheLastValueInTheFirstPlace() throws {
        let value = try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#)
        XCTAssertEqual(JSONWriter.string(value), #"{"a":3,"b":2}"#)
    }

    func testKeysThatDifferOnlyInUnicodeNormalisationStayApart() throws {
        // "é" precomposed (U+00E9) and decomposed (e + U+0301) are canonically equivalent Strings, but
        // different keys: both pass through, each with its own value.
        let line = "{\"domain\":\"a.example\",\"\u{E9}\":1,\"e\u{301}\":2}"
        guard case .object(let object) = try JSONParser.parse(line) else { return XCTFail("not an object") }
        XCTAssertEqual(object.count, 3)
        XCTAssertEqual(object["\u{E9}"], 1)
        XCTAssertEqual(object["e\u{301}"], 2)
        XCTAssertEqual(JSONWriter.string(.object(object)), line)
    }

    func testRejectsInvalidDocuments() {
        let invalid = [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "'a'", "tru", "nul", "01", "1.", ".5",
            "-", "1e", "+1", "0x10", "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"",
            "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"raw\ttab\"", "\"raw\nnewline\"", "{} {}", "[1] x", "NaN",
            "Infinity", "{\"a\":1}}",
        ]
        for text in invalid {
            XCTAssertThrowsError(try JSONParser.parse(text), "accepted \(text.debugDescription)")
        }
    }

    func testEveryCharacterRoundTripsAndNoRawControlCharacterIsWritten() throws {
        for scalar in (0...0x7F).compactMap(Unicode.Scalar.init) + ["é", "😀", "\u{2028}"] {
            let text = "ab\(scalar)cd\(scalar)\(scalar)" + String(repeating: "x", count: 40) + "\(scalar)"
            let written = JSONWriter.bytes(.string(text))
            XCTAssertFalse(written.contains { $0 < 0x20 || $0 == 0x7F }, "raw control character written for \(scalar.value)")
            XCTAssertEqual(try JSONParser.parse(written).stringValue, text, "U+\(String(scalar.value, radix: 16))")
        }
        XCTAssertEqual(JSONWriter.string(.string("")), #""""#)
        XCTAssertEqual(JSONWriter.string(.string("a\"b\\c\n\r\t\u{1}")), #""a\"b\\c\n\r\t\u0001""#)
    }

    func testRejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        XCTAssertThrowsError(try JSONParser.parse(bytes))
        let overlong: [UInt8] = [0x22, 0xC0, 0xAF, 0x22]
        XCTAssertThrowsError(try JSONParser.parse(overlong))
        // Ill-formed sequences, with and without an escape before them (two ways through the parser).
        let quote: UInt8 = 0x22, escapedNewline: [UInt8] = [0x5C, 0x6E]
        for bad: [UInt8] in [[0x80], [0xF0, 0x90, 0x80], [0xED, 0xA0, 0x80], [0xFF], [0xC3]] {
            XCTAssertThrowsError(try JSONParser.parse([quote] + bad + [quote]), "accepted \(bad)")
            XCTAssertThrowsError(try JSONParser.parse([quote] + escapedNewline + bad + [quote]), "accepted \(bad) after an escape")
            XCTAssertThrowsError(try JSONParser.parse([quote, 0x61] + bad + [0x62, quote]), "accepted \(bad) inside ASCII")
        }
        // Well-formed UTF-8 is taken as it is, with or without escapes.
        XCTAssertEqual(try JSONParser.parse([quote, 0x62, 0xC3, 0xBC, quote]).stringValue, "bü")
        XCTAssertEqual(try JSONParser.parse([quote] + escapedNewline + [0xF0, 0x9F, 0x98, 0x80, quote]).stringValue, "\n😀")
        XCTAssertEqual(try JSONParser.parse(#""\u00fc\u0041""#).stringValue, "üA")
    }

    func testDepthIsBounded() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNoThrow(try JSONParser.parse(ok))
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        XCTAssertThrowsError(try JSONParser.parse(deep))
        let veryDeep = String(repeating: "{\"a\":", count: 100_000)
        XCTAssertThrowsError(try JSONParser.parse(veryDeep))
    }

    func testFailureSaysWhere() {
        XCTAssertThrowsError(try JSONParser.parse(#"{"a":1 "b":2}"#)) { error in
            let failure = error as? JSONParser.Failure
            XCTAssertEqual(failure?.offset, 7)
            XCTAssertEqual(failure?.message, "expected ',' or '}'")
        }
    }

    func testObjectSetReplacesInPlaceAndAppendsNewKeys() {
        var object: JSONObject = ["id": 7, "domain": "a.example", "x": true]
        object["domain"] = "b.example"
        object["txt"] = ["status": "found"]
        object["x"] = nil
        XCTAssertEqual(object.keys, ["id", "domain", "txt"])
        XCTAssertEqual(JSONWriter.string(.object(object)), #"{"id":7,"domain":"b.example","txt":{"status":"found"}}"#)
    }

    func testAccessors() throws {
        let value = try JSONParser.parse(#"{"n":42,"f":1.5,"s":"x","b":true,"a":[1],"o":{"k":"v"}}"#)
        XCTAssertEqual(value["n"]?.intValue, 42)
        XCTAssertEqual(value["f"]?.doubleValue, 1.5)
        XCTAssertNil(value["f"]?.intValue)
        XCTAssertEqual(value["s"]?.stringValue, "x")
        XCTAssertEqual(value["b"]?.boolValue, true)
        XCTAssertEqual(value["a"]?.arrayValue?.count, 1)
        XCTAssertEqual(value["o"]?["k"]?.stringValue, "v")
        XCTAssertNil(value["missing"])
        XCTAssertNil(value["s"]?["k"])
    }
}
