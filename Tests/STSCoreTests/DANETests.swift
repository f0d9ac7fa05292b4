import STSCore
import XCTest

final class TLSARecordTests: XCTestCase {
    func record(_ usage: UInt8, _ selector: UInt8, _ type: UInt8, bytes: Int) -> TLSARecord {
        TLSARecord(usage: usage, selector: selector, matchingType: type, data: [UInt8](repeating: 0xAB, count: bytes))
    }

    func testDANEUsagesWithTheRightDigestLengthAreUsable() {
        XCTAssertTrue(record(3, 1, 1, bytes: 32).isUsableForSMTP)
        XCTAssertTrue(record(2, 0, 1, bytes: 32).isUsableForSMTP)
        XCTAssertTrue(record(3, 0, 2, bytes: 64).isUsableForSMTP)
        XCTAssertTrue(record(3, 1, 0, bytes: 300).isUsableForSMTP)
    }

    func testPKIXUsagesUnknownParametersAndWrongLengthsAreNot() {
        XCTAssertFalse(record(0, 1, 1, bytes: 32).isUsableForSMTP, "PKIX-TA is not used for SMTP")
        XCTAssertFalse(record(1, 1, 1, bytes: 32).isUsableForSMTP, "PKIX-EE is not used for SMTP")
        XCTAssertFalse(record(4, 1, 1, bytes: 32).isUsableForSMTP)
        XCTAssertFalse(record(3, 2, 1, bytes: 32).isUsableForSMTP)
        XCTAssertFalse(record(3, 1, 3, bytes: 32).isUsableForSMTP)
        XCTAssertFalse(record(3, 1, 1, bytes: 31).isUsableForSMTP)
        XCTAssertFalse(record(3, 1, 2, bytes: 32).isUsableForSMTP)
    }

    func testWireFormAndText() {
        XCTAssertNil(TLSARecord(rdata: [3, 1, 1]))
        let parsed = TLSARecord(rdata: [3, 1, 1, 0x0F, 0xA0])
        XCTAssertEqual(parsed, TLSARecord(usage: 3, selector: 1, matchingType: 1, data: [0x0F, 0xA0]))
        XCTAssertEqual(parsed?.text, "3 1 1 0fa0")
    }
}

final class DANEStatusTests: XCTestCase {
    let all = DANEStatus.usable(hosts: [DANEHost(host: "mx1.example.com", tlsa: .usable, records: ["3 1 1 ab"])], ttl: 300)
    let some = DANEStatus.usable(hosts: [DANEHost(host: "mx1.example.com", tlsa: .usable), DANEHost(host: "mx2.example.com", tlsa: .none)], ttl: 60)

    func testPrecedence() {
        XCTAssertEqual(DANEPrecedence.override(for: all), .daneOnly)
        XCTAssertEqual(DANEPrecedence.override(for: all)?.reply, .ok("dane-only"))
        XCTAssertEqual(DANEPrecedence.override(for: some), .dane)
        XCTAssertEqual(DANEPrecedence.override(for: some)?.reply, .ok("dane"))
        XCTAssertNil(DANEPrecedence.override(for: .absent(reason: .insecureMX, message: "", hosts: [], ttl: 1)))
        XCTAssertNil(DANEPrecedence.override(for: .absent(reason: .noTLSA, message: "", hosts: [DANEHost(host: "mx.example.com", tlsa: .unusable)], ttl: 1)))
        let bogus = DANEPrecedence.override(for: .undeterminable(STSError(.dnsBogus, "validation failed")))
        XCTAssertEqual(bogus?.reply, .temp("DANE status unknown: validation failed"))
    }

    func testJSONRoundTrip() {
        for status in [all, some, .absent(reason: .nullMX, message: "no mail", hosts: [], ttl: 5),
                       .absent(reason: .noTLSA, message: "none", hosts: [DANEHost(host: "mx.example.com", tlsa: .insecure)], ttl: 7),
                       .undeterminable(STSError(.dnsServfail, "SERVFAIL"))] {
            XCTAssertEqual(DANEStatus(json: status.json), status)
        }
        XCTAssertEqual(all.json["all_hosts"], .bool(true))
        XCTAssertEqual(some.json["all_hosts"], .bool(false))
    }

    func testUncheckedJSONIsRefused() throws {
        func parse(_ text: String) throws -> DANEStatus? { DANEStatus(json: try JSONParser.parse(Array(text.utf8))) }
        XCTAssertNil(try parse(#"{"status":"usable","hosts":[],"ttl":1}"#), "usable without hosts")
        XCTAssertNil(try parse(#"{"status":"usable","hosts":[{"host":"mx.example.com","tlsa":"none"}],"ttl":1}"#), "usable without a usable host")
        XCTAssertNil(try parse(#"{"status":"usable","hosts":[{"host":"mx example.com","tlsa":"usable"}],"ttl":1}"#), "a host name that is not one")
        XCTAssertNil(try parse(#"{"status":"none","reason":"because","ttl":1}"#))
        XCTAssertNil(try parse(#"{"status":"none","reason":"no-tlsa","ttl":-1}"#))
        XCTAssertNil(try parse(#"{"status":"maybe"}"#))
    }
}
