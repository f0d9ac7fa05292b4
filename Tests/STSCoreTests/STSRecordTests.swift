import STSCore
import XCTest

final class STSRecordTests: XCTestCase {
    func evaluate(_ records: [String]) -> TXTDiscoveryOutcome {
        TXTDiscovery.evaluate(records.map { Array($0.utf8) })
    }

    func found(_ record: String, file: StaticString = #filePath, line: UInt = #line) -> STSRecord? {
        guard case .found(let parsed) = evaluate([record]) else {
            XCTFail("expected \(record.debugDescription) to be found, got \(evaluate([record]))", file: file, line: line)
            return nil
        }
        return parsed
    }

    func reason(_ records: [String]) -> NoPolicyReason? {
        if case .none(let reason, _) = evaluate(records) { return reason }
        return nil
    }

    func testTypicalRecord() {
        let record = found("v=STSv1; id=20160831085700Z;")
        XCTAssertEqual(record?.id, "20160831085700Z")
        XCTAssertEqual(record?.text, "v=STSv1; id=20160831085700Z;")
        XCTAssertEqual(record?.extensions, [])
    }

    func testDelimiterAndWhiteSpaceForms() {
        XCTAssertEqual(found("v=STSv1;id=abc")?.id, "abc")
        XCTAssertEqual(found("v=STSv1; id=abc")?.id, "abc")
        XCTAssertEqual(found("v=STSv1;\tid=abc ;")?.id, "abc")
        XCTAssertEqual(found("v=STSv1; id=abc;  ")?.id, "abc", "trailing white space is tolerated")
        XCTAssertEqual(reason(["v=STSv1; id=abc;;"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1;; id=abc"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=abc extra"]), .invalidRecord)
    }

    func testIDLengthAndCharacters() {
        XCTAssertEqual(found("v=STSv1; id=\(String(repeating: "a", count: 32));")?.id.count, 32)
        XCTAssertEqual(found("v=STSv1; id=A;")?.id, "A")
        XCTAssertEqual(reason(["v=STSv1; id=\(String(repeating: "a", count: 33));"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=;"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=abc-123;"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=abc_123;"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=abc.123;"]), .invalidRecord)
    }

    func testIDIsRequired() {
        XCTAssertEqual(reason(["v=STSv1;"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; foo=bar;"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; ID=abc;"]), .invalidRecord, "field names are case-sensitive: ID is an extension")
    }

    func testFirstIDWins() {
        XCTAssertEqual(found("v=STSv1; id=first; id=second;")?.id, "first")
    }

    func testExtensions() {
        let record = found("v=STSv1; id=ext1; foo=bar; x-y.z_w=1")
        XCTAssertEqual(record?.extensions, [STSRecordExtension(name: "foo", value: "bar"), STSRecordExtension(name: "x-y.z_w", value: "1")])
        XCTAssertEqual(found("v=STSv1; \(String(repeating: "n", count: 32))=v; id=1")?.id, "1")
        XCTAssertEqual(reason(["v=STSv1; \(String(repeating: "n", count: 33))=v; id=1"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; -foo=bar; id=1"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; foo=; id=1"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; foo=a=b; id=1"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; foo; id=1"]), .invalidRecord)
        XCTAssertEqual(found("v=STSv1; id=1; x=!\"#$%&'()*+,-./09:<>?@AZ[\\]^_`az{|}~")?.extensions.first?.value, "!\"#$%&'()*+,-./09:<>?@AZ[\\]^_`az{|}~")
    }

    func testOnlyUSASCII() {
        XCTAssertEqual(reason(["v=STSv1; id=abc; ext=é"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=abc\u{7F}"]), .invalidRecord)
        XCTAssertEqual(reason(["v=STSv1; id=abc\r\n"]), .invalidRecord)
    }

    func testRecordsNotBeginningWithTheVersionAreDiscarded() {
        XCTAssertEqual(reason(["v=spf1 -all"]), .noSTSRecord)
        XCTAssertEqual(reason(["v=stsv1; id=1;"]), .noSTSRecord)
        XCTAssertEqual(reason(["v=STSv1 ; id=1;"]), .noSTSRecord)
        XCTAssertEqual(reason([" v=STSv1; id=1;"]), .noSTSRecord)
        XCTAssertEqual(reason(["v=STSv1"]), .noSTSRecord, "v=STSv1 without ';' does not begin with v=STSv1;")
        XCTAssertEqual(reason(["v=STSv10; id=1;"]), .noSTSRecord)
        guard case .found(let record) = evaluate(["v=spf1 -all", "v=STSv1; id=one;", "google-site-verification=x"]) else {
            return XCTFail("the one STS record among others is found")
        }
        XCTAssertEqual(record.id, "one")
    }

    func testExactlyOneRecordMayRemain() {
        XCTAssertEqual(reason(["v=STSv1; id=a1;", "v=STSv1; id=b2;"]), .multipleRecords)
        XCTAssertEqual(reason(["v=STSv1; id=a1;", "v=STSv1; id=a1;"]), .multipleRecords)
        XCTAssertEqual(reason(["v=STSv1; id=a1;", "v=STSv1; broken"]), .multipleRecords)
        XCTAssertEqual(reason([]), .nodata)
    }

    func testStringsAreJoinedWithoutSpaces() {
        let joined = TXTDiscovery.concatenate([Array("v=STS".utf8), Array("v1; id=".utf8), Array("split1;".utf8)])
        XCTAssertEqual(String(decoding: joined, as: UTF8.self), "v=STSv1; id=split1;")
        XCTAssertEqual(TXTDiscovery.concatenate([]), [])
    }

    func testInvalidMessagesSayWhichRule() {
        guard case .none(_, let message) = evaluate(["v=STSv1; id=abc-123;"]) else { return XCTFail() }
        XCTAssertTrue(message.contains("1 to 32 letters or digits"), message)
    }

    func testHugeRecordsAreRefused() {
        let big = "v=STSv1; id=1; x=" + String(repeating: "a", count: 9000)
        XCTAssertEqual(reason([big]), .invalidRecord)
    }
}
