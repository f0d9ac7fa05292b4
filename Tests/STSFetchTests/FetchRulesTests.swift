import CCurl
import STSCore
import STSFetch
import XCTest

final class FetchRulesTests: XCTestCase {
    func testMediaType() {
        for ok in ["text/plain", "TEXT/PLAIN", "text/plain; charset=utf-8", "text/plain;charset=\"x\"", " text/plain ", "Text/Plain;format=flowed"] {
            XCTAssertTrue(MediaType.isTextPlain(ok), ok)
        }
        for bad in [nil, "", "text/plainx", "text/html", "text/plain-x; a=b", "text", "application/octet-stream", "text /plain"] {
            XCTAssertFalse(MediaType.isTextPlain(bad), bad ?? "nil")
        }
    }

    func testURL() {
        XCTAssertEqual(FetchConfiguration.policyURL(for: "example.com"), "https://mta-sts.example.com/.well-known/mta-sts.txt")
    }

    func testCompletedTransferChecks() {
        let body = Array("version: STSv1\n".utf8)
        XCTAssertNil(FetchClassifier.check(status: 200, location: nil, contentType: "text/plain", body: body))
        XCTAssertEqual(FetchClassifier.check(status: 301, location: "https://x.example/", contentType: "text/html", body: [])?.reason, .redirect)
        XCTAssertEqual(FetchClassifier.check(status: 304, location: nil, contentType: nil, body: [])?.reason, .redirect)
        XCTAssertEqual(FetchClassifier.check(status: 204, location: nil, contentType: "text/plain", body: [])?.reason, .httpStatus)
        XCTAssertEqual(FetchClassifier.check(status: 404, location: nil, contentType: "text/plain", body: body)?.reason, .httpStatus)
        XCTAssertEqual(FetchClassifier.check(status: 200, location: nil, contentType: "text/html", body: body)?.reason, .contentType)
        XCTAssertEqual(FetchClassifier.check(status: 200, location: nil, contentType: nil, body: body)?.reason, .contentType)
        XCTAssertEqual(FetchClassifier.check(status: 200, location: nil, contentType: "text/plain", body: [0xC3, 0x28])?.reason, .encoding)
    }

    func testTransferErrors() {
        func reason(_ code: CURLcode, verify: Int = 0, message: String = "", tooLarge: Bool = false) -> FetchError.Reason? {
            FetchClassifier.classify(code: Int(code.rawValue), verifyResult: verify, message: message, tooLarge: tooLarge, timeout: 30)?.reason
        }
        XCTAssertNil(reason(CURLE_OK))
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 10), .expired)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 9), .notYetValid)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 18), .selfSigned)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 19), .untrusted)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 20), .untrusted)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 62), .nameMismatch)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, message: "SSL: no alternative certificate subject name matches target host name 'x'"), .nameMismatch)
        XCTAssertEqual(reason(CURLE_PEER_FAILED_VERIFICATION, verify: 99), .certificate)
        XCTAssertEqual(reason(CURLE_OPERATION_TIMEDOUT), .timeout)
        XCTAssertEqual(reason(CURLE_COULDNT_RESOLVE_HOST), .dns)
        XCTAssertEqual(reason(CURLE_COULDNT_CONNECT), .connect)
        XCTAssertEqual(reason(CURLE_SSL_CONNECT_ERROR), .tls)
        XCTAssertEqual(reason(CURLE_FILESIZE_EXCEEDED), .tooLarge)
        XCTAssertEqual(reason(CURLE_WRITE_ERROR, tooLarge: true), .tooLarge)
        XCTAssertEqual(reason(CURLE_UNSUPPORTED_PROTOCOL), .proto)
    }

    func testKinds() {
        XCTAssertEqual(FetchError(.expired, "").kind, .stsWebPKIInvalid)
        XCTAssertEqual(FetchError(.nameMismatch, "").kind, .stsWebPKIInvalid)
        XCTAssertEqual(FetchError(.timeout, "").kind, .stsPolicyFetchError)
        XCTAssertEqual(FetchError(.redirect, "").kind, .stsPolicyFetchError)
    }

    func testOutcomeJSON() {
        let ok = FetchOutcome(url: "u", httpStatus: 200, contentType: "text/plain", body: "b", bytes: 1, ip: "::1", timings: ["total": 1.26], error: nil)
        XCTAssertEqual(JSONWriter.string(ok.json), #"{"status":"ok","url":"u","http_status":200,"content_type":"text/plain","body":"b","bytes":1,"ip":"::1","timings_ms":{"total":1.3}}"#)
        let failed = FetchOutcome(url: "u", httpStatus: 404, contentType: nil, body: nil, bytes: 0, ip: nil, timings: [:], error: FetchError(.httpStatus, "HTTP status 404, not 200"))
        XCTAssertEqual(JSONWriter.string(failed.json), #"{"status":"error","url":"u","http_status":404,"error":{"kind":"sts-policy-fetch-error","reason":"http-status","message":"HTTP status 404, not 200"}}"#)
    }
}
