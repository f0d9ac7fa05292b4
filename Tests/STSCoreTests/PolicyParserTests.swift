import STSCore
import XCTest

final class PolicyParserTests: XCTestCase {
    let good = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n"

    func policy(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Policy? {
        do {
            return try PolicyParser.parse(text)
        } catch {
            XCTFail("expected a valid policy, got \(error)", file: file, line: line)
            return nil
        }
    }

    func failure(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            let parsed = try PolicyParser.parse(text)
            XCTFail("expected an invalid policy, got \(parsed)", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.kind, .stsPolicyInvalid, file: file, line: line)
            return error.message
        }
    }

    func testTypicalPolicy() {
        let parsed = policy(good)
        XCTAssertEqual(parsed?.version, "STSv1")
        XCTAssertEqual(parsed?.mode, .enforce)
        XCTAssertEqual(parsed?.maxAge, 604800)
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["mail.example.com", "*.example.net"])
        XCTAssertEqual(parsed?.lines, ["version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net", "max_age: 604800"])
    }

    func testLineEnds() {
        XCTAssertEqual(policy(good.replacingOccurrences(of: "\n", with: "\r\n")), policy(good))
        XCTAssertEqual(policy(String(good.dropLast())), policy(good), "the last line may lack a line end")
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "\n", with: "\r")), "a lone CR is not a line end")
        let mixed = "version: STSv1\r\nmode: enforce\nmx: mail.example.com\r\nmax_age: 1\n"
        XCTAssertEqual(policy(mixed)?.mx.count, 1)
    }

    func testBlankLinesAndSurroundingWhiteSpaceAreTolerated() {
        let loose = "\nversion: STSv1\n\n  mode:\tenforce  \nmx:mail.example.com\n \t\nmax_age: 86400\n\n"
        let parsed = policy(loose)
        XCTAssertEqual(parsed?.mode, .enforce)
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["mail.example.com"])
        XCTAssertEqual(parsed?.lines, ["version: STSv1", "mode:\tenforce", "mx:mail.example.com", "max_age: 86400"])
    }

    func testFirstOccurrenceWinsForNonMXKeys() {
        let parsed = policy("version: STSv1\nmode: testing\nmode: enforce\nmax_age: 100\nmax_age: 200\nmx: a.example\n")
        XCTAssertEqual(parsed?.mode, .testing)
        XCTAssertEqual(parsed?.maxAge, 100)
        XCTAssertNotNil(failure("version: STSv1\nmode: bogus\nmode: enforce\nmax_age: 1\nmx: a.example\n"), "an invalid first occurrence is not rescued by a later one")
        XCTAssertEqual(policy("version: STSv1\nversion: STSv2\nmode: none\nmax_age: 1\n")?.version, "STSv1")
    }

    func testUnknownKeysAreIgnoredButKept() {
        let parsed = policy("version: STSv1\nmode: enforce\nfoo: bar baz\nx-y.z_1: {weird}\nmx: a.example\nmax_age: 1\n")
        XCTAssertEqual(parsed?.lines.count, 6)
        XCTAssertNotNil(failure("version: STSv1\nmode: none\nmax_age: 1\nbad key: x\n"))
        XCTAssertNotNil(failure("version: STSv1\nmode: none\nmax_age: 1\n_x: y\n"))
    }

    func testKeysAndValuesAreCaseSensitive() {
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "enforce", with: "Enforce")))
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "STSv1", with: "stsv1")))
        // "Mode" is an unknown key, so the policy has no mode.
        XCTAssertEqual(failure(good.replacingOccurrences(of: "mode:", with: "Mode:")), "the policy has no mode")
    }

    func testVersion() {
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "version: STSv1\n", with: "")))
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "STSv1", with: "STSv2")))
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "STSv1", with: "STSv1 extra")))
    }

    func testModes() {
        for mode in ["enforce", "testing", "none"] {
            XCTAssertEqual(policy(good.replacingOccurrences(of: "enforce", with: mode))?.mode.rawValue, mode)
        }
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "enforce", with: "report")))
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "enforce", with: "")))
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "mode: enforce\n", with: "")))
    }

    func testMaxAgeBounds() {
        func withMaxAge(_ value: String) -> String { good.replacingOccurrences(of: "604800", with: value) }
        XCTAssertEqual(policy(withMaxAge("31557600"))?.maxAge, 31_557_600)
        XCTAssertTrue(failure(withMaxAge("31557601"))?.contains("more than 31557600") ?? false)
        XCTAssertEqual(policy(withMaxAge("0"))?.maxAge, 0)
        XCTAssertEqual(policy(withMaxAge("0000086400"))?.maxAge, 86400, "leading zeros, 10 digits")
        XCTAssertNotNil(failure(withMaxAge("00000086400")), "11 digits")
        XCTAssertNotNil(failure(withMaxAge("9999999999")))
        for bad in ["-1", "+1", "1.5", "1e3", "86400s", "8 6400", "", "0x10", "٣"] {
            XCTAssertNotNil(failure(withMaxAge(bad)), bad)
        }
        XCTAssertNotNil(failure(good.replacingOccurrences(of: "max_age: 604800\n", with: "")))
    }

    func testMXRequiredUnlessModeNone() {
        XCTAssertTrue(failure("version: STSv1\nmode: enforce\nmax_age: 1\n")?.contains("no mx") ?? false)
        XCTAssertNotNil(failure("version: STSv1\nmode: testing\nmax_age: 1\n"))
        XCTAssertEqual(policy("version: STSv1\nmode: none\nmax_age: 1\n")?.mx, [])
    }

    func testMXPatternsAreCheckedNormalisedAndDeduplicated() {
        let parsed = policy("version: STSv1\nmode: enforce\nmax_age: 1\nmx: MAIL.Example.com\nmx: *.example.net\nmx: mail.example.com\nmx: bücher.example\n")
        XCTAssertEqual(parsed?.mx.map(\.pattern), ["mail.example.com", "*.example.net", "xn--bcher-kva.example"])
        for bad in ["mail example.com", "a=b.example", "{a}.example", "mail.example.com}", "*.", "*", "*foo.example", "a.*.example",
                    "**.example", "*.*.example", "mail.example.com.", "192.0.2.1", "[192.0.2.1]", "mail_1.example", "-a.example",
                    "example", "*.com.", "mail.example.com extra", "mail.example.com;x", ""]
        {
            let message = failure("version: STSv1\nmode: enforce\nmax_age: 1\nmx: \(bad)\n")
            XCTAssertTrue(message?.hasPrefix("line 4:") ?? false, "\(bad): \(message ?? "accepted")")
        }
    }

    func testControlCharactersAreRefused() {
        XCTAssertNotNil(failure("version: STSv1\nmode: enforce\nmax_age: 1\nmx: a.example\u{1}\n"))
        XCTAssertNotNil(failure("version: STSv1\nmode: none\nmax_age: 1\nfoo: a\u{7F}\n"))
        XCTAssertNotNil(failure("version: STSv1\nmode: none\u{0}\nmax_age: 1\n"))
    }

    func testLinesWithoutAColonAreInvalid() {
        XCTAssertTrue(failure("version: STSv1\nmode: none\nmax_age: 1\njust text\n")?.hasPrefix("line 4") ?? false)
        XCTAssertNotNil(failure(": value\nversion: STSv1\nmode: none\nmax_age: 1\n"))
    }

    func testBodyMustBeUTF8AndBounded() {
        var invalidUTF8 = Array(good.utf8)
        invalidUTF8.append(contentsOf: [0x66, 0x3A, 0x20, 0xC3, 0x28, 0x0A])
        XCTAssertThrowsError(try PolicyParser.parse(invalidUTF8))
        XCTAssertEqual(try PolicyParser.parse(Array((good + "note: grüße\n").utf8)).lines.last, "note: grüße")

        let filler = "x: " + String(repeating: "a", count: 1000) + "\n"
        var body = good
        while body.utf8.count + filler.utf8.count <= PolicyParser.maxBodyBytes { body += filler }
        body += "y: " + String(repeating: "b", count: PolicyParser.maxBodyBytes - body.utf8.count - 4) + "\n"
        XCTAssertEqual(body.utf8.count, PolicyParser.maxBodyBytes)
        XCTAssertNotNil(policy(body), "exactly 64 KiB is accepted")
        XCTAssertNotNil(failure(body + "z"), "64 KiB + 1 is refused")
        XCTAssertNotNil(failure("mx: " + String(repeating: "a", count: 70000)), "one huge line is refused, not a crash")
    }

    func testMXCountIsBounded() {
        let header = "version: STSv1\nmode: enforce\nmax_age: 1\n"
        let thousand = (1...1000).map { "mx: m\($0).example\n" }.joined()
        XCTAssertEqual(policy(header + thousand)?.mx.count, 1000)
        XCTAssertNotNil(failure(header + thousand + "mx: m1001.example\n"))
    }
}

final class MXPatternTests: XCTestCase {
    func testWildcardMatchesExactlyOneLeftmostLabel() {
        let pattern = MXPattern("*.example.net")!
        XCTAssertTrue(pattern.matches(host: "mx1.example.net"))
        XCTAssertTrue(pattern.matches(host: "MX1.Example.NET."))
        XCTAssertFalse(pattern.matches(host: "example.net"))
        XCTAssertFalse(pattern.matches(host: "a.b.example.net"))
        XCTAssertFalse(pattern.matches(host: "mx1.example.net.evil"))
        XCTAssertFalse(pattern.matches(host: "mx1example.net"))
        XCTAssertFalse(pattern.matches(host: ".example.net"))
    }

    func testExactPatternMatchesOnlyItself() {
        let pattern = MXPattern("mail.example.com")!
        XCTAssertTrue(pattern.matches(host: "mail.example.com"))
        XCTAssertTrue(pattern.matches(host: "Mail.Example.Com."))
        XCTAssertFalse(pattern.matches(host: "x.mail.example.com"))
        XCTAssertFalse(pattern.matches(host: "example.com"))
    }

    func testPostfixForm() {
        XCTAssertEqual(MXPattern("*.example.net")?.postfixMatch, ".example.net")
        XCTAssertEqual(MXPattern("mail.example.com")?.postfixMatch, "mail.example.com")
        XCTAssertEqual(MXPattern("*.example.net")?.isWildcard, true)
        XCTAssertEqual(MXPattern("*.example.net")?.baseName, "example.net")
    }
}
