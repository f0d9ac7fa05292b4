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
}
