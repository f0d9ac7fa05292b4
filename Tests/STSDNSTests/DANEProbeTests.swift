import STSCore
import STSDNS
import XCTest

/// MX RDATA for `preference exchange` (labels, uncompressed).
func mxRData(_ preference: UInt16, _ exchange: String) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(preference >> 8), UInt8(preference & 0xFF)]
    for label in exchange.split(separator: ".") {
        bytes.append(UInt8(label.utf8.count))
        bytes += Array(label.utf8)
    }
    return bytes + [0]
}

let tlsa311: [UInt8] = [3, 1, 1] + [UInt8](repeating: 0x11, count: 32)
let tlsa111: [UInt8] = [1, 1, 1] + [UInt8](repeating: 0x11, count: 32)

final class MXRDataTests: XCTestCase {
    func testParses() {
        XCTAssertEqual(MXRData.parse(mxRData(10, "MX1.Example.COM"))?.exchange, "mx1.example.com")
        XCTAssertEqual(MXRData.parse(mxRData(10, "mx1.example.com"))?.preference, 10)
        XCTAssertEqual(MXRData.parse(mxRData(0, ""))?.exchange, "", "a null MX")
    }

    func testMalformedDataIsRefused() {
        XCTAssertNil(MXRData.parse([0, 10]))
        XCTAssertNil(MXRData.parse([0, 10, 3, 0x61, 0x62]), "a label running past the end")
        XCTAssertNil(MXRData.parse([0, 10, 0xC0, 0x0C]), "a compression pointer")
        XCTAssertNil(MXRData.parse(mxRData(10, "mx.example.com") + [7]), "bytes after the name")
    }
}

final class DANEProbeTests: XCTestCase {
    func secure(_ records: [[UInt8]], rcode: Int32 = DNSAnswer.noError, ttl: Int = 300) -> Result<DNSAnswer, STSError> {
        .success(DNSAnswer(rcode: rcode, records: records, ttl: ttl, secure: true))
    }

    func testAnUnsignedMXRRsetMeansNoDANE() {
        let outcome = DANEProbe.mxHosts(domain: "example.com", answer: .success(DNSAnswer(rcode: 0, records: [mxRData(10, "mx.example.com")], ttl: 60)), limit: 16)
        guard case .decided(.absent(.insecureMX, _, _, 60)) = outcome else { return XCTFail("\(outcome)") }
    }

    func testFailuresAndBogusMXAreUndeterminable() {
        let bogus = DANEProbe.mxHosts(domain: "example.com", answer: .success(DNSAnswer(rcode: 0, records: [], ttl: 0, bogus: true, whyBogus: "no signatures")), limit: 16)
        guard case .decided(.undeterminable(let error)) = bogus else { return XCTFail("\(bogus)") }
        XCTAssertEqual(error.kind, .dnsBogus)
        let servfail = DANEProbe.mxHosts(domain: "example.com", answer: .success(DNSAnswer(rcode: 2, records: [], ttl: 0)), limit: 16)
        guard case .decided(.undeterminable(let error2)) = servfail else { return XCTFail("\(servfail)") }
        XCTAssertEqual(error2.kind, .dnsServfail)
        let timeout = DANEProbe.mxHosts(domain: "example.com", answer: .failure(STSError(.dnsTimeout, "no answer")), limit: 16)
        guard case .decided(.undeterminable(let error3)) = timeout else { return XCTFail("\(timeout)") }
        XCTAssertEqual(error3.kind, .dnsTimeout)
    }

    func testHostsComeByPreferenceWithoutDuplicates() {
        let outcome = DANEProbe.mxHosts(domain: "example.com", answer: secure([mxRData(20, "b.example.com"), mxRData(10, "a.example.com"), mxRData(30, "a.example.com")]), limit: 16)
        XCTAssertEqual(outcome, .hosts(["a.example.com", "b.example.com"]))
        let limited = DANEProbe.mxHosts(domain: "example.com", answer: secure((1...20).map { mxRData(UInt16($0), "mx\($0).example.com") }), limit: 3)
        XCTAssertEqual(limited, .hosts(["mx1.example.com", "mx2.example.com", "mx3.example.com"]))
    }

    func testNoMXMeansTheDomainItselfAndNullMXMeansNoMail() {
        XCTAssertEqual(DANEProbe.mxHosts(domain: "example.com", answer: secure([]), limit: 16), .hosts(["example.com"]))
        guard case .decided(.absent(.nullMX, _, _, _)) = DANEProbe.mxHosts(domain: "example.com", answer: secure([mxRData(0, "")]), limit: 16) else { return XCTFail() }
        guard case .decided(.absent(.nxdomain, _, _, _)) = DANEProbe.mxHosts(domain: "example.com", answer: secure([], rcode: DNSAnswer.nxDomain), limit: 16) else { return XCTFail() }
    }

    func testEveryHostWithUsableTLSAIsDANEOnly() {
        let status = DANEProbe.evaluate(hosts: ["a.example.com", "b.example.com"], tlsa: [secure([tlsa311], ttl: 120), secure([tlsa311, tlsa111])], mxTTL: 300)
        XCTAssertEqual(DANEPrecedence.override(for: status), .daneOnly)
        XCTAssertEqual(status.ttl, 120)
    }

    func testSomeHostsIsDANE() {
        let status = DANEProbe.evaluate(hosts: ["a.example.com", "b.example.com", "c.example.com"],
                                        tlsa: [secure([tlsa311]), secure([], rcode: DNSAnswer.nxDomain), .success(DNSAnswer(rcode: 0, records: [], ttl: 10))], mxTTL: 300)
        guard case .usable(let hosts, _) = status else { return XCTFail("\(status)") }
        XCTAssertEqual(hosts.map(\.tlsa), [.usable, .none, .insecure])
        XCTAssertEqual(DANEPrecedence.override(for: status), .dane)
    }

    func testOnlyUnusableOrMissingTLSAIsAProvenAbsence() {
        let status = DANEProbe.evaluate(hosts: ["a.example.com", "b.example.com"], tlsa: [secure([tlsa111]), secure([])], mxTTL: 300)
        guard case .absent(.noTLSA, _, let hosts, _) = status else { return XCTFail("\(status)") }
        XCTAssertEqual(hosts.map(\.tlsa), [.unusable, .none])
        XCTAssertNil(DANEPrecedence.override(for: status))
    }

    func testOneFailedOrBogusTLSALookupMakesItUndeterminable() {
        let bogus = DANEProbe.evaluate(hosts: ["a.example.com", "b.example.com"],
                                       tlsa: [secure([tlsa311]), .success(DNSAnswer(rcode: 0, records: [], ttl: 0, bogus: true))], mxTTL: 300)
        guard case .undeterminable(let error) = bogus else { return XCTFail("\(bogus)") }
        XCTAssertEqual(error.kind, .dnsBogus)
        let timeout = DANEProbe.evaluate(hosts: ["a.example.com"], tlsa: [.failure(STSError(.dnsTimeout, "slow"))], mxTTL: 300)
        guard case .undeterminable(let error2) = timeout else { return XCTFail("\(timeout)") }
        XCTAssertEqual(error2.kind, .dnsTimeout)
        let servfail = DANEProbe.evaluate(hosts: ["a.example.com"], tlsa: [.success(DNSAnswer(rcode: 2, records: [], ttl: 0))], mxTTL: 300)
        guard case .undeterminable = servfail else { return XCTFail("\(servfail)") }
    }
}
