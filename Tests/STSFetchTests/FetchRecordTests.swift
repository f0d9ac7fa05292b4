import STSCore
import STSFetch
import XCTest

final class FetchRecordTests: XCTestCase {
    func record(_ json: String) -> JSONObject {
        try! JSONParser.parse(Array(json.utf8)).objectValue!
    }

    func testURLAndHost() {
        XCTAssertEqual(FetchConfiguration.policyURL(for: "example.com"), "https://mta-sts.example.com/.well-known/mta-sts.txt")
        XCTAssertEqual(FetchConfiguration.policyURL(for: "xn--bcher-kva.example"), "https://mta-sts.xn--bcher-kva.example/.well-known/mta-sts.txt")
        XCTAssertEqual(FetchConfiguration.policyHost(for: "example.com"), "mta-sts.example.com")
    }

    func testDefaults() {
        let configuration = FetchConfiguration()
        XCTAssertEqual(configuration.connectTimeout, 10)
        XCTAssertEqual(configuration.timeout, 30)
        XCTAssertNil(configuration.caFile)
        XCTAssertTrue(configuration.userAgent.hasPrefix("sts-fetch/"))
        XCTAssertTrue(configuration.userAgent.contains("MTA-STS"))
        XCTAssertEqual(FetchConfiguration.maxBodyBytes, 65536)
    }

    func testRecordsWithAFoundPolicyAreFetched() {
        XCTAssertNil(FetchSkip.reason(for: record(#"{"domain":"a.example","txt":{"status":"found","id":"x1"}}"#)))
        // A stale cache, or a fresh one for another id, does not stop the fetch.
        XCTAssertNil(FetchSkip.reason(for: record(#"{"txt":{"status":"found","id":"x1"},"cache":{"policy_id":"x1","fresh":false}}"#)))
        XCTAssertNil(FetchSkip.reason(for: record(#"{"txt":{"status":"found","id":"x2"},"cache":{"policy_id":"x1","fresh":true}}"#)))
        XCTAssertNil(FetchSkip.reason(for: record(#"{"txt":{"status":"found","id":"x1"},"cache":{"policy_id":"x1","fresh":"true"}}"#)))
        XCTAssertNil(FetchSkip.reason(for: record(#"{"txt":{"status":"found","id":"x2"},"cache":{"backoff_id":"x1"}}"#)))
        XCTAssertNil(FetchSkip.reason(for: record(#"{"txt":{"status":"found","id":"x1"},"cache":null}"#)))
    }

    func testSkipRules() {
        let cases: [(String, FetchSkip)] = [
            (#"{"domain":"a.example"}"#, .noPolicy),
            (#"{"txt":{"status":"none","reason":"nxdomain"}}"#, .noPolicy),
            (#"{"txt":{"status":"error","error":{"kind":"dns-servfail"}}}"#, .noPolicy),
            (#"{"txt":{"status":"found"}}"#, .noPolicy),
            (#"{"txt":{"status":"found","id":7}}"#, .noPolicy),
            (#"{"txt":"found"}"#, .noPolicy),
            (#"{"txt":{"status":"found","id":"x1"},"fetch":{"status":"ok"}}"#, .alreadyFetched),
            (#"{"txt":{"status":"found","id":"x1"},"fetch":null}"#, .alreadyFetched),
            (#"{"txt":{"status":"found","id":"x1"},"cache":{"policy_id":"x1","fresh":true}}"#, .cachedFresh),
            (#"{"txt":{"status":"found","id":"x1"},"cache":{"backoff_id":"x1","policy_id":"x0","fresh":true}}"#, .backoff),
        ]
        for (json, skip) in cases {
            XCTAssertEqual(FetchSkip.reason(for: record(json)), skip, json)
        }
    }

    func testOutcomeJSON() {
        let ok = FetchOutcome(url: "u", httpStatus: 200, contentType: "text/plain", body: "b", bytes: 1, ip: "::1", timings: ["total": 1.26, "dns": 0.04])
        XCTAssertEqual(JSONWriter.string(ok.json), #"{"status":"ok","url":"u","http_status":200,"content_type":"text/plain","body":"b","bytes":1,"ip":"::1","timings_ms":{"dns":0.0,"total":1.3}}"#)
        let failed = FetchOutcome(url: "u", httpStatus: 404, error: FetchError(.httpStatus, "HTTP status 404; only 200 is accepted"))
        XCTAssertEqual(JSONWriter.string(failed.json), #"{"status":"error","url":"u","http_status":404,"error":{"kind":"sts-policy-fetch-error","reason":"http-status","message":"HTTP status 404; only 200 is accepted"}}"#)
    }

    func testReasonsAndKinds() {
        let webpki: Set<String> = ["expired", "not-yet-valid", "name-mismatch", "untrusted", "self-signed", "other"]
        let fetch: Set<String> = ["timeout", "connect", "dns", "tls", "http-status", "redirect", "content-type", "too-large", "encoding", "protocol"]
        XCTAssertEqual(Set(FetchError.Reason.allCases.map(\.rawValue)), webpki.union(fetch))
        for reason in FetchError.Reason.allCases {
            XCTAssertEqual(reason.kind, webpki.contains(reason.rawValue) ? .stsWebPKIInvalid : .stsPolicyFetchError, reason.rawValue)
        }
    }
}
