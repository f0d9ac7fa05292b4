import STSCore
import STSVerdict
import XCTest

/// A record as `sts-dns | sts-fetch | sts-parse` leaves it for a domain with a valid policy.
func pipelineRecord(dane: JSONValue? = nil) throws -> JSONObject {
    let text = #"{"domain":"example.com","txt":{"status":"found","id":"abc1"},"fetch":{"status":"ok"},"policy":{"status":"valid","version":"STSv1","mode":"enforce","mx":["mx.example.com"],"max_age":86400}}"#
    guard case .object(var record) = try JSONParser.parse(text) else { throw STSError(.internalError, "not an object") }
    if let dane { record["dane"] = dane }
    return record
}

final class VerdictTests: XCTestCase {
    func testWithoutDANETheMTASTSAnswerStands() throws {
        let verdict = Verdict.of(try pipelineRecord(), options: ZoneOptions())
        XCTAssertEqual(verdict.outcome, .policy)
        XCTAssertEqual(verdict.socketmapReply, "OK secure match=mx.example.com servername=hostname")
    }

    func testUsableTLSAOnEveryHostIsDANEOnly() throws {
        let dane = DANEStatus.usable(hosts: [DANEHost(host: "mx.example.com", tlsa: .usable)], ttl: 60).json
        let verdict = Verdict.of(try pipelineRecord(dane: dane), options: ZoneOptions())
        XCTAssertEqual(verdict.socketmapReply, "OK dane-only")
        XCTAssertTrue(verdict.summary.hasPrefix("DANE on every MX host"))
        XCTAssertEqual(verdict.json["postfix"], "OK dane-only")
    }

    func testAProvenAbsenceKeepsTheMTASTSAnswer() throws {
        let dane = DANEStatus.absent(reason: .insecureMX, message: "unsigned", hosts: [], ttl: 60).json
        XCTAssertEqual(Verdict.of(try pipelineRecord(dane: dane), options: ZoneOptions()).socketmapReply, "OK secure match=mx.example.com servername=hostname")
    }

    func testAnUndeterminableStatusIsTEMPAndAnError() throws {
        let dane = DANEStatus.undeterminable(STSError(.dnsBogus, "bad signature")).json
        let verdict = Verdict.of(try pipelineRecord(dane: dane), options: ZoneOptions())
        XCTAssertEqual(verdict.socketmapReply, "TEMP DANE status unknown: bad signature")
        XCTAssertEqual(verdict.outcome, .error)
        XCTAssertEqual(verdict.errorKind, "dns-bogus")
    }

    func testAMalformedDANEStatusIsNotTakenAsAbsence() throws {
        let verdict = Verdict.of(try pipelineRecord(dane: ["status": "usable", "hosts": []]), options: ZoneOptions())
        XCTAssertEqual(verdict.socketmapReply?.hasPrefix("TEMP "), true)
    }
}
