import STSCore
import XCTest

final class DomainNameTests: XCTestCase {
    func normalized(_ input: String) -> String? { try? DomainName.normalize(input) }

    /// The message of the error `normalize` throws; fails the test when it does not throw.
    func problem(_ input: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let name = try DomainName.normalize(input)
            XCTFail("expected \(input.debugDescription) to be refused, got \(name)", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, .invalidDomain, file: file, line: line)
            return error.message
        }
    }

    let label63 = String(repeating: "a", count: 63)

    func testLowerCasesAndRemovesOneTrailingDot() {
        XCTAssertEqual(normalized("Example.COM"), "example.com")
        XCTAssertEqual(normalized("example.com."), "example.com")
        XCTAssertEqual(normalized("good.test"), "good.test")
        XCTAssertTrue(problem("example.com..").contains("empty label"))
        XCTAssertNil(normalized("."))
        XCTAssertNil(normalized(".."))
    }

    func testTrimsNothingElse() {
        XCTAssertNil(normalized(" example.com"))
        XCTAssertNil(normalized("example.com "))
        XCTAssertNil(normalized(".example.com"))
    }

    func testConvertsULabelsToALabels() {
        XCTAssertEqual(normalized("bücher.example"), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("BÜCHER.example."), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("münchen.de"), "xn--mnchen-3ya.de")
        XCTAssertEqual(normalized("例え.テスト"), "xn--r8jz45g.xn--zckzah")
        XCTAssertEqual(normalized("bücher.xn--mnchen-3ya"), "xn--bcher-kva.xn--mnchen-3ya")
    }

    func testNonTransitionalMapping() {
        // UTS #46 non-transitional: ß stays ß (xn--fa-hia); transitional processing would give "fass".
        XCTAssertEqual(normalized("faß.de"), "xn--fa-hia.de")
        XCTAssertEqual(normalized("ｅｘａｍｐｌｅ.com"), "example.com", "full-width letters map to ASCII")
        XCTAssertEqual(normalized("e\u{0301}cole.example"), "xn--cole-9oa.example", "NFC is applied to the input")
        XCTAssertEqual(normalized("école.example"), "xn--cole-9oa.example")
    }

    func testIdeographicDotsSeparateLabels() {
        XCTAssertEqual(normalized("bücher\u{3002}example"), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("example\u{FF0E}com"), "example.com")
        XCTAssertEqual(normalized("example\u{FF61}com\u{3002}"), "example.com", "one trailing dot of any form is removed")
    }

    func testRefusesDisallowedUnicode() {
        XCTAssertTrue(problem("💩.example").contains("internationalised"))
        XCTAssertNil(normalized("a\u{200D}b.example"), "ZWJ outside its CONTEXTJ rule")
        XCTAssertNil(normalized("a⒈com.example"), "a compatibility character that would map to a dot")
        XCTAssertNil(normalized("\u{0301}a.example"), "a label cannot begin with a combining mark")
        XCTAssertNil(normalized("\u{00AD}.example"), "a label that maps to nothing")
    }

    func testChecksALabels() {
        XCTAssertEqual(normalized("xn--bcher-kva.example"), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("XN--BCHER-KVA.example"), "xn--bcher-kva.example")
        XCTAssertNil(normalized("xn--.example"), "empty punycode")
        XCTAssertNil(normalized("xn--zz-zzzzz.example"), "decodes to disallowed characters")
        XCTAssertNil(normalized("xn--a.example"), "decodes to a control character")
        XCTAssertNil(normalized("xn--bcher-2pa.example"), "decodes to an upper-case Ü, which is not a valid U-label")
        XCTAssertNil(normalized("xn--ls8h.example"), "decodes to an emoji")
    }

    func testASCIILabelsAreNotHeldToIDNARules() {
        // Hyphens in positions 3 and 4 are valid in host names (and used), only not in U-labels.
        XCTAssertEqual(normalized("r3--sn-abc.example"), "r3--sn-abc.example")
        XCTAssertEqual(normalized("bücher.ab--cd.example"), "xn--bcher-kva.ab--cd.example")
    }

    func testRefusesAddressesAndPorts() {
        XCTAssertTrue(problem("192.0.2.1").contains("all digits: an address"))
        XCTAssertTrue(problem("192.0.2.1.").contains("all digits: an address"))
        XCTAssertTrue(problem("10.1").contains("all digits: an address"))
        XCTAssertTrue(problem("example.123").contains("last label is all digits"))
        for input in ["[192.0.2.1]", "2001:db8::1", "[ipv6:2001:db8::1]", "example.com:25", "[example.com]", "::1"] {
            XCTAssertTrue(problem(input).contains("address or has a port"), input)
        }
    }

    func testLabelRules() {
        XCTAssertEqual(normalized("\(label63).example"), "\(label63).example")
        XCTAssertTrue(problem("\(label63)a.example").contains("longer than 63"))
        XCTAssertTrue(problem("-a.example").contains("hyphen"))
        XCTAssertTrue(problem("a-.example").contains("hyphen"))
        XCTAssertTrue(problem("a.example-").contains("hyphen"))
        XCTAssertEqual(normalized("a-b.example"), "a-b.example")
        XCTAssertTrue(problem("a..example").contains("empty label"))
        XCTAssertEqual(normalized("123.example"), "123.example", "only the last label may not be all digits")
        XCTAssertEqual(normalized("example.123a"), "example.123a")
        XCTAssertEqual(normalized("a.b.c.d.example"), "a.b.c.d.example")
    }

    func testCharactersOutsideLDH() {
        for input in ["a_b.example", "a b.example", "a*b.example", "*.example.com", "a=b.example", "a{b}.example", "a/b.example",
                      "a@b.example", "a,b.example", "a;b.example", "a\"b.example", "a\\b.example"]
        {
            XCTAssertTrue(problem(input).contains("other than letters, digits and hyphens"), input)
        }
    }

    func testSingleLabelNamesAreRefused() {
        XCTAssertTrue(problem("localhost").contains("single label"))
        XCTAssertTrue(problem("com.").contains("single label"))
        XCTAssertNil(normalized("bücher"))
    }

    func testTotalLength() {
        let name253 = "\(label63).\(label63).\(label63).\(String(repeating: "b", count: 61))"
        XCTAssertEqual(name253.utf8.count, 253)
        XCTAssertEqual(normalized(name253), name253)
        XCTAssertEqual(normalized(name253 + "."), name253, "the trailing dot does not count")
        XCTAssertTrue(problem(name253 + "b").contains("longer than 253"))
        // U-labels count in their A-label form.
        XCTAssertNil(normalized(String(repeating: "ü", count: 60) + ".example"))
    }

    func testInputIsBoundedBeforeAnyWork() {
        let exactly1024 = String(repeating: "a.", count: 511) + "ab"
        XCTAssertEqual(exactly1024.utf8.count, 1024)
        XCTAssertTrue(problem(exactly1024).contains("longer than 253"), "1024 bytes are looked at")
        XCTAssertTrue(problem(exactly1024 + "c").contains("longer than 1024 bytes"))
        XCTAssertTrue(problem(String(repeating: "ü", count: 100_000)).contains("longer than 1024 bytes"))
        XCTAssertEqual(problem(""), "the domain name is empty")
    }

    func testRefusesControlCharacters() {
        for input in ["exa\u{0}mple.com", "example.com\n", "exa\tmple.com", "example.com\r", "exa\u{7F}mple.com", "exa\u{85}mple.com", "\u{1B}[31m.example"] {
            let message = problem(input)
            XCTAssertTrue(message.contains("control character"), input.debugDescription)
            XCTAssertFalse(message.unicodeScalars.contains { $0.properties.generalCategory == .control }, "the message escapes them: \(message)")
        }
    }

    func testMessagesQuoteTheInputShortened() {
        let message = problem(String(repeating: "x", count: 300) + "_.example")
        XCTAssertTrue(message.contains("…"), message)
        XCTAssertLessThan(message.count, 200)
    }

    func testIsValidHostnameIsStrict() {
        XCTAssertTrue(DomainName.isValidHostname("mail.example.com"))
        XCTAssertTrue(DomainName.isValidHostname("xn--bcher-kva.example"))
        XCTAssertTrue(DomainName.isValidHostname("\(label63).example"))
        XCTAssertFalse(DomainName.isValidHostname("\(label63)a.example"))
        XCTAssertFalse(DomainName.isValidHostname("Mail.example.com"), "must already be lower-case")
        XCTAssertFalse(DomainName.isValidHostname("mail.example.com."))
        XCTAssertFalse(DomainName.isValidHostname("com"))
        XCTAssertFalse(DomainName.isValidHostname("bücher.example"))
        XCTAssertFalse(DomainName.isValidHostname("a=b.example"))
        XCTAssertFalse(DomainName.isValidHostname("a{b}.example"))
        XCTAssertFalse(DomainName.isValidHostname("*.example.com"))
        XCTAssertFalse(DomainName.isValidHostname("192.0.2.1"))
        XCTAssertFalse(DomainName.isValidHostname("-a.example"))
        XCTAssertFalse(DomainName.isValidHostname("a.-example"))
        XCTAssertFalse(DomainName.isValidHostname("a..example"))
        XCTAssertFalse(DomainName.isValidHostname("mail example.com"))
        XCTAssertFalse(DomainName.isValidHostname(""))
        let name253 = "\(label63).\(label63).\(label63).\(String(repeating: "b", count: 61))"
        XCTAssertTrue(DomainName.isValidHostname(name253))
        XCTAssertFalse(DomainName.isValidHostname(name253 + "b"))
    }

    /// Each problem a host name can have is named, the first one found in the order the checks read:
    /// length, label count, then label by label, then the digits rules.
    func testEachHostnameProblemIsNamed() {
        let cases: [(String, String)] = [
            ("com", "it has a single label (a policy domain has at least two)"),
            ("a..example", "it has an empty label"),
            (".example.com", "it has an empty label"),
            ("\(label63)a.example", "a label is longer than 63 characters"),
            ("-a.example", "a label begins or ends with a hyphen"),
            ("a-.example", "a label begins or ends with a hyphen"),
            ("a_b.example", "it has a character other than letters, digits and hyphens"),
            ("a..b_c.example", "it has an empty label"),
            ("1.2.3.4.5", "it is all digits: an address, not a name"),
            ("example.123", "the last label is all digits"),
            (String(repeating: "a.", count: 127) + "a", "it is longer than 253 characters"),
        ]
        for (input, expected) in cases {
            let message = problem(input)
            XCTAssertTrue(message.hasSuffix(expected), "\(input): \(message)")
        }
        for valid in ["a.b", "1a.example", "example.1a", "x-y.example.org", "\(label63).\(label63).example"] {
            XCTAssertTrue(DomainName.isValidHostname(valid), valid)
        }
        XCTAssertFalse(DomainName.isValidHostname(""))
        XCTAssertFalse(DomainName.isValidHostname("Mail.example.com"))
    }
}

final class PlainHostnameTests: XCTestCase {
    /// The quick path for ASCII names gives exactly what the general path gives, and leaves every
    /// other input to it.
    func testAgreesWithTheGeneralPath() throws {
        for input in ["example.com", "EXAMPLE.COM.", "Mail-1.Example.NET", "r3--sn-a.example", "a.b.c.d.e", "x.y"] {
            let name = try DomainName.normalize(input)
            XCTAssertEqual(name, input.lowercased().hasSuffix(".") ? String(input.lowercased().dropLast()) : input.lowercased())
        }
        for input in ["xn--bcher-kva.test", "bücher.test", "-bad.example", "a..b", "localhost", "1.2.3.4", "example.com..", "", ".", "ex ample.com", "xn--zz.test"] {
            let quick = try? DomainName.normalize(input)
            if let quick { XCTAssertTrue(DomainName.isValidHostname(quick), input) }
        }
        XCTAssertEqual(try DomainName.normalize("xn--bcher-kva.test"), "xn--bcher-kva.test")
        XCTAssertThrowsError(try DomainName.normalize("xn--zz.test"), "an A-label still goes through libidn2's check")
        XCTAssertThrowsError(try DomainName.normalize("example.com.."))
        XCTAssertThrowsError(try DomainName.normalize("123.456"))
    }
}
