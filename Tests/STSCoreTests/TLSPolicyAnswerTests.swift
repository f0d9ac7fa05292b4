import STSCore
import XCTest

final class TLSPolicyAnswerTests: XCTestCase {
    func policy(_ mode: PolicyMode, _ mx: [String], lines: [String] = []) -> Policy {
        Policy(mode: mode, maxAge: 86400, mx: mx.map { MXPattern($0)! }, lines: lines)
    }

    func testEnforceGivesSecureMatchInPolicyOrder() {
        let answer = TLSPolicyAnswer.render(policy(.enforce, ["mx2.example.com", "*.example.net", "mx1.example.com"]), domain: "example.com")
        XCTAssertEqual(answer, .policy("secure match=mx2.example.com:.example.net:mx1.example.com servername=hostname"))
    }

    func testSingleLabelAndDigitLabelPatternsReachTheAnswer() {
        let answer = TLSPolicyAnswer.render(policy(.enforce, ["localhost", "*.com", "mail.123"]), domain: "example.com")
        XCTAssertEqual(answer, .policy("secure match=localhost:.com:mail.123 servername=hostname"))
    }

    func testPolicyLinesAreReportedWithoutTheBlanksAroundThem() {
        let lines = ["version: STSv1", "mode: enforce \t", "\tmx: mail.example.com", "  max_age: 86400", "   ", "x: {y}"]
        let answer = TLSPolicyAnswer.render(policy(.enforce, ["mail.example.com"], lines: lines), domain: "example.com", options: ZoneOptions(tlsrpt: true))
        XCTAssertEqual(answer, .policy("secure match=mail.example.com servername=hostname policy_type=sts policy_domain=example.com"
                + " mx_host_pattern=mail.example.com { policy_string = version: STSv1 } { policy_string = mode: enforce }"
                + " { policy_string = mx: mail.example.com } { policy_string = max_age: 86400 }"))
    }

    func testWithoutSNI() {
        let answer = TLSPolicyAnswer.render(policy(.enforce, ["mail.example.com"]), domain: "example.com", options: ZoneOptions(requireSNI: false))
        XCTAssertEqual(answer, .policy("secure match=mail.example.com"))
    }

    func testTestingAndNone() {
        XCTAssertEqual(TLSPolicyAnswer.render(policy(.testing, ["mail.example.com"]), domain: "example.com"), .noPolicy("the policy's mode is testing"))
        XCTAssertEqual(
            TLSPolicyAnswer.render(policy(.testing, ["mail.example.com"]), domain: "example.com", options: ZoneOptions(strictTesting: true)),
            .policy("secure match=mail.example.com servername=hostname"))
        XCTAssertEqual(
            TLSPolicyAnswer.render(policy(.none, []), domain: "example.com", options: ZoneOptions(strictTesting: true)),
            .noPolicy("the policy's mode is none"))
    }

    func testTLSRPTAttributes() {
        let lines = ["version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net", "max_age: 86400", "bad: {x}"]
        let answer = TLSPolicyAnswer.render(policy(.enforce, ["mail.example.com", "*.example.net"], lines: lines), domain: "example.com", options: ZoneOptions(tlsrpt: true))
        XCTAssertEqual(answer, .policy(
            "secure match=mail.example.com:.example.net servername=hostname policy_type=sts policy_domain=example.com"
                + " mx_host_pattern=mail.example.com mx_host_pattern=*.example.net"
                + " { policy_string = version: STSv1 } { policy_string = mode: enforce } { policy_string = mx: mail.example.com }"
                + " { policy_string = mx: *.example.net } { policy_string = max_age: 86400 }"))
    }

    func testAnswerStaysWithinPostfixLimit() {
        let many = (1...1000).map { "m\($0)-" + String(repeating: "a", count: 55) + "." + String(repeating: "b", count: 40) + ".example.com" }
        guard case .tooLarge(let size) = TLSPolicyAnswer.render(policy(.enforce, many), domain: "example.com") else {
            return XCTFail("a policy too large for Postfix must not be answered as is")
        }
        XCTAssertGreaterThan(size, TLSPolicyAnswer.maxValueBytes)
    }

    func testTLSRPTAttributesGiveWayToStayWithinPostfixLimit() {
        let host = { (n: Int) in "m\(n)-" + String(repeating: "a", count: 50) + ".example.com" }
        // Everything fits but the policy lines: they are left out, the mx_host_pattern attributes stay.
        let medium = (1...500).map(host)
        let mediumLines = ["version: STSv1", "mode: enforce"] + medium.map { "mx: \($0)" } + ["max_age: 86400"]
        guard case .policy(let withPatterns) = TLSPolicyAnswer.render(policy(.enforce, medium, lines: mediumLines), domain: "example.com",
                                                                      options: ZoneOptions(tlsrpt: true)) else {
            return XCTFail("a policy that fits without its policy lines is answered")
        }
        XCTAssertTrue(withPatterns.hasPrefix("secure match=" + medium.joined(separator: ":") + " servername=hostname policy_type=sts policy_domain=example.com mx_host_pattern="))
        XCTAssertFalse(withPatterns.contains("policy_string"))
        XCTAssertLessThanOrEqual(withPatterns.utf8.count, TLSPolicyAnswer.maxValueBytes)

        // Not even the patterns fit: the answer is the one of a zone without tlsrpt.
        let large = (1...850).map(host)
        let largeLines = ["version: STSv1", "mode: enforce"] + large.map { "mx: \($0)" } + ["max_age: 86400"]
        XCTAssertEqual(
            TLSPolicyAnswer.render(policy(.enforce, large, lines: largeLines), domain: "example.com", options: ZoneOptions(tlsrpt: true)),
            TLSPolicyAnswer.render(policy(.enforce, large, lines: largeLines), domain: "example.com"))
        guard case .policy(let plain) = TLSPolicyAnswer.render(policy(.enforce, large), domain: "example.com") else {
            return XCTFail("850 patterns fit without the TLSRPT attributes")
        }
        XCTAssertLessThanOrEqual(plain.utf8.count, TLSPolicyAnswer.maxValueBytes)
    }
}
