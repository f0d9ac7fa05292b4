import STSCore
import XCTest

final class MXPatternTests: XCTestCase {
    let label63 = String(repeating: "a", count: 63)

    func testHostNamesAndWildcards() {
        let exact = MXPattern("mail.example.com")
        XCTAssertEqual(exact?.pattern, "mail.example.com")
        XCTAssertEqual(exact?.isWildcard, false)
        XCTAssertEqual(exact?.baseName, "mail.example.com")
        let wildcard = MXPattern("*.example.net")
        XCTAssertEqual(wildcard?.pattern, "*.example.net")
        XCTAssertEqual(wildcard?.isWildcard, true)
        XCTAssertEqual(wildcard?.baseName, "example.net")
    }

    func testLowerCasesAndConvertsIDN() {
        XCTAssertEqual(MXPattern("MAIL.Example.COM")?.pattern, "mail.example.com")
        XCTAssertEqual(MXPattern("*.EXAMPLE.net")?.pattern, "*.example.net")
        XCTAssertEqual(MXPattern("mx.bücher.example")?.pattern, "mx.xn--bcher-kva.example")
        XCTAssertEqual(MXPattern("*.BÜCHER.example")?.pattern, "*.xn--bcher-kva.example")
        XCTAssertEqual(MXPattern("XN--BCHER-KVA.example")?.pattern, "xn--bcher-kva.example")
        XCTAssertEqual(MXPattern("MAIL.example.com"), MXPattern("mail.example.com"), "equal once normalised")
        XCTAssertEqual(Set([MXPattern("a.example")!, MXPattern("A.EXAMPLE")!]).count, 1)
    }

    /// RFC 8461 §3.2: an mx value is `["*."] Domain` (RFC 5321), which allows one label and digit
    /// labels. Refusing them would make the whole policy invalid, which is weaker still: no policy.
    func testSingleLabelsAndDigitLabelsAreNames() {
        XCTAssertEqual(MXPattern("localhost")?.pattern, "localhost")
        XCTAssertEqual(MXPattern("*.com")?.pattern, "*.com")
        XCTAssertEqual(MXPattern("*.com")?.postfixMatch, ".com")
        XCTAssertEqual(MXPattern("mail.123")?.pattern, "mail.123")
        XCTAssertEqual(MXPattern("MX1")?.pattern, "mx1")
        XCTAssertEqual(MXPattern("*.123.example")?.pattern, "*.123.example")
    }

    func testRefusesEverythingElse() {
        let hostile = [
            "", " ", "mail example.com", "mail.example.com extra", " mail.example.com", "a=b.example", "{a}.example",
            "mail.example.com}", "mail.example.com{", "a:b.example", "mail.example.com:25", "a,b.example", "a;b.example",
            "mail.example.com\u{1}", "mail\t.example.com", "mail.example.com\n", "mail.example.com\r", "mail.\u{7F}.example",
            "*", "*.", "*..example.com", "*foo.example", "foo*.example", "a.*.example", "**.example", "*.*.example", "*example.com",
            ".example.com", "mail.example.com.", "*.example.com.", "mail.example.com。", "192.0.2.1", "*.192.0.2.1", "1", "*.1",
            "[192.0.2.1]", "2001:db8::1", "mail_1.example", "-a.example", "a-.example", "xn--zz-zzzzz.example", "💩.example",
            "mail.example.com/path", "mail.example.com%00", "\(label63)a.example",
        ]
        for text in hostile {
            XCTAssertNil(MXPattern(text), text.debugDescription)
        }
    }

    func testLengthBounds() {
        XCTAssertNotNil(MXPattern("\(label63).example"))
        XCTAssertNotNil(MXPattern("*.\(label63).example"))
        XCTAssertNil(MXPattern("*.\(label63)a.example"))
        let name253 = "\(label63).\(label63).\(label63).\(String(repeating: "b", count: 61))"
        XCTAssertEqual(MXPattern(name253)?.pattern, name253)
        XCTAssertNil(MXPattern(name253 + "b"))
        XCTAssertEqual(MXPattern("*." + name253)?.baseName, name253)
        XCTAssertNil(MXPattern("*." + name253 + "b"))
    }

    func testWildcardMatchesExactlyOneLeftmostLabel() {
        let pattern = MXPattern("*.example.net")!
        XCTAssertTrue(pattern.matches(host: "mx1.example.net"))
        XCTAssertTrue(pattern.matches(host: "MX1.Example.NET."))
        XCTAssertFalse(pattern.matches(host: "example.net"))
        XCTAssertFalse(pattern.matches(host: "a.b.example.net"))
        XCTAssertFalse(pattern.matches(host: "mx1.example.net.evil"))
        XCTAssertFalse(pattern.matches(host: "mx1example.net"))
        XCTAssertFalse(pattern.matches(host: "mx1.xexample.net"))
        XCTAssertFalse(pattern.matches(host: ".example.net"))
        XCTAssertFalse(pattern.matches(host: "mx1.example.net.."))
        XCTAssertFalse(pattern.matches(host: ""))
    }

    func testExactPatternMatchesOnlyItself() {
        let pattern = MXPattern("mail.example.com")!
        XCTAssertTrue(pattern.matches(host: "mail.example.com"))
        XCTAssertTrue(pattern.matches(host: "Mail.Example.Com."))
        XCTAssertFalse(pattern.matches(host: "x.mail.example.com"))
        XCTAssertFalse(pattern.matches(host: "example.com"))
        XCTAssertFalse(pattern.matches(host: "mail.example.com.."))
        XCTAssertFalse(pattern.matches(host: "mail.example.co"))
    }

    func testCaseFoldingIsASCIIOnly() {
        // KELVIN SIGN lower-cases to "k" under Unicode rules; a host name match must not.
        XCTAssertFalse(MXPattern("k.example.com")!.matches(host: "\u{212A}.example.com"))
        XCTAssertFalse(MXPattern("*.example.com")!.matches(host: "mail.\u{212A}example.com"))
    }

    func testPostfixForm() {
        XCTAssertEqual(MXPattern("*.example.net")?.postfixMatch, ".example.net")
        XCTAssertEqual(MXPattern("mail.example.com")?.postfixMatch, "mail.example.com")
        XCTAssertEqual(MXPattern("*.bücher.example")?.postfixMatch, ".xn--bcher-kva.example")
    }
}
