import STSCore
import XCTest

/// RFC 8461 §3.1 selection over a TXT RRset, through `TXTDiscovery`.
final class TXTDiscoveryTests: XCTestCase {
    func evaluate(_ records: [String]) -> TXTDiscoveryOutcome {
        TXTDiscovery.evaluate(records.map { Array($0.utf8) })
    }

    func reason(_ records: [String]) -> NoPolicyReason? {
        if case .none(let reason, _) = evaluate(records) { return reason }
        return nil
    }

    func testOneRecordIsFound() {
        XCTAssertEqual(evaluate(["v=STSv1; id=20160831085700Z;"]), .found(STSRecord(id: "20160831085700Z", text: "v=STSv1; id=20160831085700Z;")))
    }

    func testEmptyRRsetIsNodata() {
        XCTAssertEqual(reason([]), .nodata)
    }

    func testRecordsNotBeginningExactlyWithTheVersionAreDiscarded() {
        for record in ["v=spf1 -all", "v=stsv1; id=1;", "V=STSv1; id=1;", "v=STSv1 ; id=1;", " v=STSv1; id=1;", "v=STSv1",
                       "v=STSv1\t; id=1", "v=STSv10; id=1;", "", "\"v=STSv1; id=1;\""]
        {
            XCTAssertEqual(reason([record]), .noSTSRecord, record.debugDescription)
        }
        guard case .found(let record) = evaluate(["v=spf1 -all", "v=STSv1; id=one;", "google-site-verification=x"]) else {
            return XCTFail("the one STS record among others is found")
        }
        XCTAssertEqual(record.id, "one")
        XCTAssertEqual(reason(["v=spf1 -all", "v=STSv1 ; id=1;", "v=STSv1; id=2;"]), nil, "the discarded one does not count")
    }

    func testExactlyOneRecordMayRemain() {
        XCTAssertEqual(reason(["v=STSv1; id=a1;", "v=STSv1; id=b2;"]), .multipleRecords)
        XCTAssertEqual(reason(["v=STSv1; id=a1;", "v=STSv1; id=a1;"]), .multipleRecords, "even identical ones")
        XCTAssertEqual(reason(["v=STSv1; id=a1;", "v=STSv1; broken"]), .multipleRecords, "an invalid one still counts")
    }

    func testInvalidRecordMeansNoPolicyWithTheRuleNamed() {
        guard case .none(.invalidRecord, let message) = evaluate(["v=STSv1; id=abc-123;"]) else {
            return XCTFail("expected invalid-record")
        }
        XCTAssertEqual(message, "id \"abc-123\" must be 1 to 32 letters or digits")
        XCTAssertEqual(reason(["v=STSv1; id=1; x=" + String(repeating: "a", count: 9000)]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1;"]), .invalidRecord)
    }

    func testStringsAreJoinedWithoutSpaces() {
        let joined = TXTDiscovery.concatenate([Array("v=STS".utf8), Array("v1; id=".utf8), Array("split1;".utf8)])
        XCTAssertEqual(String(decoding: joined, as: UTF8.self), "v=STSv1; id=split1;")
        XCTAssertEqual(TXTDiscovery.concatenate([]), [])
        XCTAssertEqual(TXTDiscovery.concatenate([[], Array("a".utf8), []]), Array("a".utf8))
        let long = String(repeating: "a", count: 255)
        let record = TXTDiscovery.concatenate([Array("v=STSv1; id=1; x=\(long)".utf8), Array("b".utf8)])
        guard case .found(let parsed) = TXTDiscovery.evaluate([record]) else { return XCTFail() }
        XCTAssertEqual(parsed.extensions.first?.value, long + "b")
    }

    func testReasonsAreStable() {
        XCTAssertEqual(NoPolicyReason.nxdomain.rawValue, "nxdomain")
        XCTAssertEqual(NoPolicyReason.nodata.rawValue, "nodata")
        XCTAssertEqual(NoPolicyReason.noSTSRecord.rawValue, "no-sts-record")
        XCTAssertEqual(NoPolicyReason.multipleRecords.rawValue, "multiple-records")
        XCTAssertEqual(NoPolicyReason.invalidRecord.rawValue, "invalid-record")
    }
}
