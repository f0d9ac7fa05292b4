import STSCore
import XCTest

final class PolicyParserTests: XCTestCase {
    let good = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n"
    let header = "version: STSv1\nmode: enforce\nmax_age: 86400\n"

    func policy(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Policy? {
        policy(Array(text.utf8), file: file, line: line)
    }

    func policy(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> Policy? {
        do {
            return try PolicyParser.parse(bytes)
        } catch {
            XCTFail("expected a valid policy, got \(error)", file: file, line: line)
            return nil
        }
    }

    /// The message of the error for an invalid policy; fails the test when the policy is accepted.
    func problem(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        problem(Array(text.utf8), file: file, line: line)
    }

    func problem(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let parsed = try PolicyParser.parse(bytes)
            XCTFail("expected an invalid policy, got \(parsed)", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, .stsPolicyInvalid, file: file, line: line)
            return error.message
        }
    }

    func testLinesAreKeptWholeAndInOrder() {
        let lines = ["version: STSv1", "note: grüße", "\u{301}combining first", "x: 😀", "max_age: 1"]
        let policy = Policy(mode: .none, maxAge: 1, mx: [], lines: lines)
        XCTAssertEqual(policy.lines, lines)
        XCTAssertEqual(Policy(mode: .none, maxAge: 1, mx: [], lines: []).lines, [])
        XCTAssertEqual(Policy(mode: .none, maxAge: 1, mx: [], lines: ["only"]).lines, ["only"])
    }

    func testTypicalPolicy() {
        let parsed = policy(good)
        XCTAssertEqual(parsed?.version, "STSv1")
        XCTAssertEqual(parsed?.mode, .enforce)
        XCTAssertEqual(parsed?.maxAge, 604800)
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["mail.example.com", "*.example.net"])
        XCTAssertEqual(parsed?.lines, ["version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net", "max_age: 604800"])
        XCTAssertEqual(try PolicyParser.parse(good), try PolicyParser.parse(Array(good.utf8)), "String and bytes agree")
    }

    func testMXValuesAreRFC5321Domains() {
        // One label and digit labels are names by the grammar; the policy is valid with them.
        let parsed = policy("version: STSv1\nmode: enforce\nmax_age: 86400\nmx: localhost\nmx: *.com\nmx: mail.123\n")
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["localhost", "*.com", "mail.123"])
    }

    func testKeysMayComeInAnyOrder() {
        XCTAssertEqual(policy("mx: a.example\nmax_age: 1\nmode: testing\nversion: STSv1")?.mode, .testing)
    }

    // MARK: Line ends

    func testLFAndCRLF() {
        XCTAssertEqual(policy(good.replacingOccurrences(of: "\n", with: "\r\n")), policy(good))
        let mixed = "version: STSv1\r\nmode: enforce\nmx: mail.example.com\r\nmax_age: 1\n"
        XCTAssertEqual(policy(mixed)?.lines, ["version: STSv1", "mode: enforce", "mx: mail.example.com", "max_age: 1"])
    }

    func testTheLastLineMayLackALineEnd() {
        XCTAssertEqual(policy(String(good.dropLast())), policy(good))
    }

    func testALoneCRIsNotALineEnd() {
        XCTAssertTrue(problem(good.replacingOccurrences(of: "\n", with: "\r")).contains("carriage return"))
        XCTAssertEqual(problem("version: STSv1\nmode: none\rmax_age: 1\n"), "line 2: a carriage return that does not end the line")
        XCTAssertTrue(problem("version: STSv1\nmode: none\nmax_age: 1\r").hasPrefix("line 3:"), "a CR at the very end is a lone CR")
        XCTAssertTrue(problem("version: STSv1\nmode: none\nmax_age: 1\r\r\n").hasPrefix("line 3:"))
    }

    func testBlankLinesAreSkipped() {
        // Layout only: refusing it would turn a policy the domain meant into none at all.
        let expected = policy("version: STSv1\nmode: none\nmax_age: 1\n")
        XCTAssertEqual(policy("version: STSv1\n\nmode: none\nmax_age: 1\n"), expected)
        XCTAssertEqual(policy("\nversion: STSv1\nmode: none\nmax_age: 1\n"), expected)
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmax_age: 1\n\n"), expected)
        XCTAssertEqual(policy("version: STSv1\r\nmode: none\r\nmax_age: 1\r\n\r\n"), expected)
        XCTAssertEqual(policy("version: STSv1\n \t\nmode: none\nmax_age: 1\n"), expected)
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmax_age: 1\n  "), expected)
        XCTAssertEqual(problem("\n"), "the policy has no version line")
        XCTAssertEqual(problem(""), "the policy is empty")
    }

    // MARK: Line syntax

    func testWhiteSpaceAroundTheValueIsTrimmedAndBeforeTheKeySkipped() {
        let parsed = policy("version:STSv1\nmode:\t enforce \t\nmx:   mail.example.com\nmax_age: 86400  ")
        XCTAssertEqual(parsed?.mode, .enforce)
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["mail.example.com"])
        XCTAssertEqual(parsed?.maxAge, 86400)
        XCTAssertEqual(parsed?.lines, ["version:STSv1", "mode:\t enforce \t", "mx:   mail.example.com", "max_age: 86400  "], "lines stay as published")
        XCTAssertEqual(policy("version: STSv1\n mode: none\nmax_age: 1\n")?.lines, ["version: STSv1", "mode: none", "max_age: 1"])
        XCTAssertEqual(policy("version: STSv1\n\tmode: testing\nmax_age: 1\nmx: a.example\n")?.mode, .testing)
        XCTAssertTrue(problem("version: STSv1\nmode : none\nmax_age: 1\n").contains("key \"mode \""), "no white space before the colon")
    }

    func testLinesWithoutAColonAreInvalid() {
        XCTAssertEqual(problem("version: STSv1\nmode: none\nmax_age: 1\njust text\n"), "line 4: \"just text\" is not \"key: value\"")
        XCTAssertTrue(problem("version STSv1\nmode: none\nmax_age: 1\n").hasPrefix("line 1:"))
    }

    func testKeyRule() {
        XCTAssertNotNil(policy(header + "mx: a.example\n\(String(repeating: "k", count: 32)): v\n"))
        XCTAssertTrue(problem(header + "mx: a.example\n\(String(repeating: "k", count: 33)): v\n").hasPrefix("line 5: key"))
        for bad in [": value", "_x: y", "-x: y", ".x: y", "bad key: x", "ké: x", "a/b: c"] {
            XCTAssertTrue(problem(header + "mx: a.example\n\(bad)\n").hasPrefix("line 5: key"), bad)
        }
        XCTAssertTrue(problem("\u{FEFF}" + good).contains("byte order mark"))
    }

    func testEveryValueIsNonEmptyAndFreeOfControlCharacters() {
        XCTAssertEqual(problem(header + "mx: a.example\nfoo:\n"), "line 5: foo has no value")
        XCTAssertEqual(problem(header + "mx: a.example\nfoo: \t \n"), "line 5: foo has no value")
        XCTAssertEqual(problem(header + "mx: a.example\nfoo: a\tb\n"), "line 5: the value of foo contains a control character (0x9)")
        XCTAssertTrue(problem(header + "mx: a.example\nfoo: a\u{7F}\n").contains("0x7F"))
        XCTAssertTrue(problem(header + "mx: a.example\nfoo: \u{1B}[31mred\n").contains("0x1B"))
        XCTAssertTrue(problem(header + "mx: a.example\u{1}\n").hasPrefix("line 4:"))
        XCTAssertTrue(problem("version: STSv1\nmode: none\u{0}\nmax_age: 1\n").contains("NUL"))
    }

    // MARK: Keys

    func testKeysAndValuesAreCaseSensitive() {
        XCTAssertTrue(problem(good.replacingOccurrences(of: "enforce", with: "Enforce")).contains("mode \"Enforce\""))
        XCTAssertTrue(problem(good.replacingOccurrences(of: "STSv1", with: "stsv1")).contains("version \"stsv1\""))
        XCTAssertEqual(problem(good.replacingOccurrences(of: "mode:", with: "Mode:")), "the policy has no mode line", "Mode is an unknown key")
        XCTAssertEqual(problem(good.replacingOccurrences(of: "version:", with: "VERSION:")), "the policy has no version line")
        XCTAssertEqual(problem(good.replacingOccurrences(of: "max_age:", with: "Max_Age:")), "the policy has no max_age line")
        XCTAssertEqual(policy(good.replacingOccurrences(of: "mx: *.example.net", with: "MX: *.example.net"))?.mx.count, 1, "MX is an unknown key")
    }

    func testFirstOccurrenceWinsForNonMXKeys() {
        let parsed = policy("version: STSv1\nmode: testing\nmode: enforce\nmax_age: 100\nmax_age: 200\nmx: a.example\n")
        XCTAssertEqual(parsed?.mode, .testing)
        XCTAssertEqual(parsed?.maxAge, 100)
        XCTAssertEqual(policy("version: STSv1\nversion: STSv2\nmode: none\nmax_age: 1\n")?.version, "STSv1")
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmode: bogus\nmax_age: 1\nmax_age: 99999999999\n")?.mode, PolicyMode.none, "later values are not looked at")
        XCTAssertTrue(problem("version: STSv1\nmode: bogus\nmode: enforce\nmax_age: 1\nmx: a.example\n").hasPrefix("line 2:"),
                      "an invalid first occurrence is not rescued by a later one")
        XCTAssertTrue(problem("version: STSv2\nversion: STSv1\nmode: none\nmax_age: 1\n").hasPrefix("line 1:"))
        XCTAssertTrue(problem("version: STSv1\nmode: none\nmode:\nmax_age: 1\n").hasPrefix("line 3:"), "but every line must be well-formed")
    }

    func testUnknownKeysAreIgnoredButKept() {
        let parsed = policy("version: STSv1\nmode: enforce\nfoo: bar baz\nx-y.z_1: {weird} = value\nmx: a.example\nmax_age: 1\nnote: grüße\n")
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["a.example"])
        XCTAssertEqual(parsed?.lines, ["version: STSv1", "mode: enforce", "foo: bar baz", "x-y.z_1: {weird} = value", "mx: a.example", "max_age: 1", "note: grüße"])
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmax_age: 1\nurl: https://example.com/x\n")?.lines.last, "url: https://example.com/x",
                       "only the first colon separates key and value")
    }

    // MARK: Values

    func testVersion() {
        XCTAssertEqual(problem(good.replacingOccurrences(of: "version: STSv1\n", with: "")), "the policy has no version line")
        XCTAssertEqual(problem(good.replacingOccurrences(of: "STSv1", with: "STSv2")), "line 1: version \"STSv2\" is not STSv1")
        XCTAssertTrue(problem(good.replacingOccurrences(of: "STSv1", with: "STSv1 extra")).hasPrefix("line 1:"))
        XCTAssertTrue(problem(good.replacingOccurrences(of: "STSv1", with: "STSv1;")).hasPrefix("line 1:"))
    }

    func testModes() {
        for mode in PolicyMode.allCases {
            XCTAssertEqual(policy(good.replacingOccurrences(of: "enforce", with: mode.rawValue))?.mode, mode)
        }
        XCTAssertEqual(problem(good.replacingOccurrences(of: "enforce", with: "report")), "line 2: mode \"report\" is not enforce, testing or none")
        XCTAssertEqual(problem(good.replacingOccurrences(of: "mode: enforce", with: "mode:")), "line 2: mode has no value")
        XCTAssertEqual(problem(good.replacingOccurrences(of: "mode: enforce\n", with: "")), "the policy has no mode line")
        XCTAssertTrue(problem(good.replacingOccurrences(of: "enforce", with: "enforce testing")).hasPrefix("line 2:"))
    }

    func testMaxAgeIsDigitsOnlyUpToOneYear() {
        func withMaxAge(_ value: String) -> String { good.replacingOccurrences(of: "604800", with: value) }
        XCTAssertEqual(policy(withMaxAge("31557600"))?.maxAge, 31_557_600)
        XCTAssertEqual(problem(withMaxAge("31557601")), "line 5: max_age 31557601 is more than 31557600")
        XCTAssertEqual(policy(withMaxAge("0"))?.maxAge, 0)
        XCTAssertEqual(policy(withMaxAge("0000086400"))?.maxAge, 86400, "leading zeros, 10 digits")
        XCTAssertEqual(problem(withMaxAge("00000086400")), "line 5: max_age \"00000086400\" must be 1 to 10 digits")
        XCTAssertTrue(problem(withMaxAge("9999999999")).contains("more than"))
        XCTAssertTrue(problem(withMaxAge("99999999999999999999999")).contains("1 to 10 digits"), "no overflow")
        for bad in ["-1", "+1", "1.5", "1e3", "86400s", "8 6400", "0x10", "٣", "１"] {
            XCTAssertTrue(problem(withMaxAge(bad)).hasPrefix("line 5: max_age"), bad)
        }
        XCTAssertEqual(problem(good.replacingOccurrences(of: "max_age: 604800\n", with: "")), "the policy has no max_age line")
    }

    // MARK: mx

    func testMXRequiredUnlessModeNone() {
        XCTAssertEqual(problem("version: STSv1\nmode: enforce\nmax_age: 1\n"), "the policy has no mx line (required unless mode is none)")
        XCTAssertTrue(problem("version: STSv1\nmode: testing\nmax_age: 1\n").contains("no mx"))
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmax_age: 1\n")?.mx, [])
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmax_age: 1\nmx: a.example\n")?.mx.count, 1)
    }

    func testMXPatternsAreNormalisedAndDeduplicatedInOrder() {
        let parsed = policy(header + "mx: MAIL.Example.com\nmx: *.example.net\nmx: mail.example.com\nmx: bücher.example\nmx: xn--bcher-kva.example\nmx: *.EXAMPLE.net\n")
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["mail.example.com", "*.example.net", "xn--bcher-kva.example"])
        XCTAssertEqual(parsed?.lines.count, 9, "duplicates stay in lines")
    }

    func testHostileMXValuesInvalidateThePolicy() {
        let hostile = [
            "mail example.com", "mail.example.com extra", "a=b.example", "{a}.example", "mail.example.com}", "a:b.example",
            "mail.example.com\u{1}", "mail.example.com\u{7F}", "*.", "*", "*foo.example", "a.*.example", "**.example", "*.*.example",
            "mail.example.com.", "192.0.2.1", "[192.0.2.1]", "mail_1.example", "-a.example", "*.192.0.2.1",
            "mail.example.com;x", "mail.example.com,x.example", "💩.example", "xn--zz-zzzzz.example",
        ]
        for value in hostile {
            let message = problem(header + "mx: \(value)\n")
            XCTAssertTrue(message.hasPrefix("line 4: ") && message.contains("mx"), "\(value.debugDescription): \(message)")
        }
        XCTAssertEqual(problem(header + "mx:\n"), "line 4: mx has no value")
        XCTAssertTrue(problem(header + "mx: a.example\nmx: bad value\nmx: b.example\n").hasPrefix("line 5:"), "one bad mx is enough")
    }

    func testMXCountIsBounded() {
        let thousand = (1...1000).map { "mx: m\($0).example\n" }.joined()
        XCTAssertEqual(policy(header + thousand)?.mx.count, 1000)
        XCTAssertEqual(problem(header + thousand + "mx: m1001.example\n"), "line 1004: more than 1000 mx lines")
        XCTAssertNotNil(try? PolicyParser.parse(header + String(repeating: "mx: a.example\n", count: 1000)))
        XCTAssertNil(try? PolicyParser.parse(header + String(repeating: "mx: a.example\n", count: 1001)), "repeats count as lines")
    }

    // MARK: Bounds and encoding

    func testBodyIsBoundedAt64KiB() {
        let filler = "x: " + String(repeating: "a", count: 1000) + "\n"
        var body = good
        while body.utf8.count + filler.utf8.count <= PolicyParser.maxBodyBytes { body += filler }
        body += "y: " + String(repeating: "b", count: PolicyParser.maxBodyBytes - body.utf8.count - 4) + "\n"
        XCTAssertEqual(body.utf8.count, 65536)
        XCTAssertNotNil(policy(body), "exactly 64 KiB is accepted")
        XCTAssertEqual(problem(body + "z"), "the policy is larger than 65536 bytes")
    }

    func testLinesAreBounded() {
        let atLimit = "x: " + String(repeating: "a", count: PolicyParser.maxLineBytes - 3)
        XCTAssertEqual(atLimit.utf8.count, 8192)
        XCTAssertNotNil(policy(good + atLimit + "\r\n"), "the line end does not count")
        XCTAssertEqual(problem(good + atLimit + "a\n"), "line 6: the line is longer than 8192 bytes")
        XCTAssertEqual(problem("mx: " + String(repeating: "a", count: 65532)), "line 1: the line is longer than 8192 bytes")
    }

    func testBodyMustBeUTF8() {
        XCTAssertEqual(problem(Array(good.utf8) + [0x66, 0x3A, 0x20, 0xC3, 0x28, 0x0A]), "the policy is not valid UTF-8 text")
        XCTAssertEqual(problem(Array(good.utf8) + Array("f: ".utf8) + [0xED, 0xA0, 0x80]), "the policy is not valid UTF-8 text", "no surrogates")
        XCTAssertEqual(problem(Array(good.utf8) + Array("f: ".utf8) + [0xC0, 0xAF]), "the policy is not valid UTF-8 text", "no overlong forms")
        XCTAssertEqual(problem(Array(good.utf8) + [0]), "the policy contains a NUL byte")
    }

    func testMessagesQuoteValuesShortenedAndEscaped() {
        let message = problem(header + "mx: " + String(repeating: "x", count: 5000) + "_\n")
        XCTAssertLessThan(message.count, 200, message)
        let escaped = problem(header + "mode2: ok\nmx: a\u{2028}b.example\n")
        XCTAssertTrue(escaped.contains("\\u{2028}"), escaped)
    }
}
