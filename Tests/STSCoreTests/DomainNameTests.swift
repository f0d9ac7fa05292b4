import STSCore
import XCTest

final class DomainNameTests: XCTestCase {
    func normalized(_ input: String) -> String? { try? DomainName.normalize(input) }

    func testLowerCasesAndDropsOneTrailingDot() {
        XCTAssertEqual(normalized("Example.COM"), "example.com")
        XCTAssertEqual(normalized("example.com."), "example.com")
        XCTAssertNil(normalized("example.com.."))
        XCTAssertNil(normalized("."))
    }

    func testConvertsULabelsToALabels() {
        XCTAssertEqual(normalized("bücher.example"), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("BÜCHER.example."), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("münchen.de"), "xn--mnchen-3ya.de")
        // UTS #46 non-transitional: ß stays ß (xn--fa-hia), it is not mapped to "ss".
        XCTAssertEqual(normalized("faß.de"), "xn--fa-hia.de")
        XCTAssertEqual(normalized("例え.テスト"), "xn--r8jz45g.xn--zckzah")
    }

    func testAcceptsValidALabelsAndRejectsBrokenOnes() {
        XCTAssertEqual(normalized("xn--bcher-kva.example"), "xn--bcher-kva.example")
        XCTAssertEqual(normalized("XN--BCHER-KVA.example"), "xn--bcher-kva.example")
        XCTAssertNil(normalized("xn--.example"))
        XCTAssertNil(normalized("xn--zz-zzzzz.example"))
    }

    func testRejectsAddressesAndPorts() {
        for input in ["192.0.2.1", "192.0.2.1.", "[192.0.2.1]", "2001:db8::1", "[ipv6:2001:db8::1]", "example.com:25", "10.1"] {
            XCTAssertThrowsError(try DomainName.normalize(input), input) { error in
                XCTAssertEqual((error as? STSError)?.kind, .invalidDomain)
            }
        }
    }

    func testLabelRules() {
        let label63 = String(repeating: "a", count: 63)
        XCTAssertEqual(normalized("\(label63).example"), "\(label63).example")
        XCTAssertNil(normalized("\(label63)a.example"))
        XCTAssertNil(normalized("-a.example"))
        XCTAssertNil(normalized("a-.example"))
        XCTAssertEqual(normalized("a-b.example"), "a-b.example")
        XCTAssertNil(normalized("a..example"))
        XCTAssertNil(normalized(".example.com"))
        XCTAssertNil(normalized("a_b.example"))
        XCTAssertNil(normalized("a b.example"))
        XCTAssertNil(normalized("a*b.example"))
        XCTAssertNil(normalized("*.example.com"))
        XCTAssertNil(normalized("localhost"), "single labels cannot be policy domains")
        XCTAssertEqual(normalized("123.example"), "123.example")
        XCTAssertEqual(normalized("example.123a"), "example.123a")
    }

    func testTotalLength() {
        // 4 labels of 63 + 3 dots = 255; trim to exactly 253 and 254.
        let l63 = String(repeating: "a", count: 63)
        let name253 = "\(l63).\(l63).\(l63).\(String(repeating: "b", count: 61))"
        XCTAssertEqual(name253.utf8.count, 253)
        XCTAssertEqual(normalized(name253), name253)
        XCTAssertEqual(normalized(name253 + "."), name253, "the trailing dot does not count")
        XCTAssertNil(normalized(name253 + "b"))
    }

    func testRejectsEmptyHugeAndControlInput() {
        XCTAssertNil(normalized(""))
        XCTAssertNil(normalized(String(repeating: "a.", count: 600) + "com"))
        XCTAssertNil(normalized("exa\u{0}mple.com"))
        XCTAssertNil(normalized("example.com\n"))
        XCTAssertNil(normalized("exa\tmple.com"))
    }

    func testIsValidHostnameIsStrict() {
        XCTAssertTrue(DomainName.isValidHostname("mail.example.com"))
        XCTAssertFalse(DomainName.isValidHostname("Mail.example.com"), "must already be lower-case")
        XCTAssertFalse(DomainName.isValidHostname("mail.example.com."))
        XCTAssertFalse(DomainName.isValidHostname("com"))
        XCTAssertFalse(DomainName.isValidHostname("bücher.example"))
        XCTAssertFalse(DomainName.isValidHostname("a=b.example"))
        XCTAssertFalse(DomainName.isValidHostname("a{b}.example"))
        XCTAssertFalse(DomainName.isValidHostname(""))
    }
}
