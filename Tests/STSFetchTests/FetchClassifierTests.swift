import CCurl
import STSFetch
import XCTest

/// The verdict on a finished transfer, from what libcurl 7.88 with OpenSSL 3 really reports for each
/// case (observed in the test world; see sts-fetch(1)).
final class FetchClassifierTests: XCTestCase {
    let configuration = FetchConfiguration(connectTimeout: 5, timeout: 20)
    let policy = Array("version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n".utf8)

    func report(_ code: CURLcode, verify: Int = 0, message: String = "", status: Int = 0, contentType: String? = nil, body: [UInt8] = [],
                connected: Bool = false) -> TransferReport
    {
        var report = TransferReport(host: "mta-sts.example.com", code: Int(code.rawValue))
        report.verifyResult = verify
        report.message = message
        report.status = status
        report.contentType = contentType
        report.body = body
        report.received = body.count
        report.connected = connected
        return report
    }

    func verdict(_ report: TransferReport) -> FetchError? {
        FetchClassifier.error(for: report, configuration: configuration)
    }

    func testAFetchedPolicyPasses() {
        XCTAssertNil(verdict(report(CURLE_OK, status: 200, contentType: "text/plain; charset=utf-8", body: policy, connected: true)))
        XCTAssertNil(verdict(report(CURLE_OK, status: 200, contentType: "text/plain", body: [], connected: true)))
    }

    func testCertificateProblemsAreWebPKIErrorsWithTheirReason() {
        let cases: [(Int, String, FetchError.Reason)] = [
            (10, "SSL certificate problem: certificate has expired", .expired),
            (9, "SSL certificate problem: certificate is not yet valid", .notYetValid),
            (18, "SSL certificate problem: self-signed certificate", .selfSigned),
            (19, "SSL certificate problem: self-signed certificate in certificate chain", .untrusted),
            (20, "SSL certificate problem: unable to get local issuer certificate", .untrusted),
            (2, "SSL certificate problem: unable to get issuer certificate", .untrusted),
            (21, "SSL certificate problem: unable to verify the first certificate", .untrusted),
            (62, "SSL certificate problem: hostname mismatch", .nameMismatch),
            // libcurl's own name check: OpenSSL accepted the chain, libcurl sets the result to 1.
            (1, "SSL: no alternative certificate subject name matches target host name 'mta-sts.example.com'", .nameMismatch),
            (1, "SSL: certificate subject name 'other.test' does not match target host name 'mta-sts.example.com'", .nameMismatch),
            (26, "SSL certificate problem: unsupported certificate purpose", .other),
            (0, "", .other),
        ]
        for (verify, message, reason) in cases {
            let error = verdict(report(CURLE_PEER_FAILED_VERIFICATION, verify: verify, message: message))
            XCTAssertEqual(error?.reason, reason, message)
            XCTAssertEqual(error?.kind, .stsWebPKIInvalid, message)
            XCTAssertTrue(error?.message.contains("mta-sts.example.com") == true, message)
        }
    }

    func testTransferFailuresAreFetchErrorsWithTheirReason() {
        let cases: [(CURLcode, String, FetchError.Reason)] = [
            (CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: mta-sts.example.com", .dns),
            (CURLE_COULDNT_RESOLVE_PROXY, "Could not resolve proxy: proxy.example", .dns),
            (CURLE_COULDNT_CONNECT, "Failed to connect to mta-sts.example.com port 443 after 1 ms: Couldn't connect to server", .connect),
            (CURLE_SSL_CONNECT_ERROR, "OpenSSL/3.0.22: error:0A00010B:SSL routines::wrong version number", .tls),
            (CURLE_SSL_CONNECT_ERROR, "OpenSSL/3.0.22: error:0A00042E:SSL routines::tlsv1 alert protocol version", .tls),
            (CURLE_GOT_NOTHING, "Empty reply from server", .proto),
            (CURLE_WEIRD_SERVER_REPLY, "Unsupported HTTP version in response", .proto),
            (CURLE_RECV_ERROR, "Recv failure: Connection reset by peer", .proto),
            (CURLE_UNSUPPORTED_PROTOCOL, "Protocol \"http\" not supported", .proto),
        ]
        for (code, message, reason) in cases {
            let error = verdict(report(code, message: message))
            XCTAssertEqual(error?.reason, reason, message)
            XCTAssertEqual(error?.kind, .stsPolicyFetchError, message)
            XCTAssertTrue(error?.message.contains(message) == true, message)
        }
    }

    func testTimeoutsSayWhichPhase() {
        let handshake = verdict(report(CURLE_OPERATION_TIMEDOUT, message: "SSL connection timeout"))
        XCTAssertEqual(handshake?.reason, .timeout)
        XCTAssertEqual(handshake?.message, "no TLS connection to mta-sts.example.com within 5 s (SSL connection timeout)")
        let silent = verdict(report(CURLE_OPERATION_TIMEDOUT, message: "Operation timed out after 20000 milliseconds with 0 bytes received", connected: true))
        XCTAssertEqual(silent?.message, "mta-sts.example.com sent no answer within 20 s (Operation timed out after 20000 milliseconds with 0 bytes received)")
        let partial = verdict(report(CURLE_OPERATION_TIMEDOUT, status: 200, contentType: "text/plain", body: Array(policy.prefix(10)), connected: true))
        XCTAssertEqual(partial?.message, "mta-sts.example.com did not send the whole policy within 20 s: 10 bytes received")
        let short = FetchClassifier.error(for: report(CURLE_OPERATION_TIMEDOUT), configuration: FetchConfiguration(connectTimeout: 10, timeout: 2.5))
        XCTAssertTrue(short?.message.hasPrefix("no TLS connection to mta-sts.example.com within 2.5 s") == true)
    }

    func testStatusMustBeExactly200AndRedirectsNameTheirTarget() {
        let redirect = verdict(report(CURLE_OK, status: 301, contentType: "text/html", connected: true).with { $0.location = "https://elsewhere.example/p" })
        XCTAssertEqual(redirect?.reason, .redirect)
        XCTAssertEqual(redirect?.message, "HTTP 301 redirect to https://elsewhere.example/p; redirects are not followed")
        for status in [300, 302, 303, 307, 308] {
            XCTAssertEqual(verdict(report(CURLE_OK, status: status, connected: true))?.reason, .redirect, "\(status)")
        }
        XCTAssertEqual(verdict(report(CURLE_OK, status: 302, connected: true))?.message, "HTTP 302 redirect without a Location; redirects are not followed")
        for status in [201, 204, 206, 304, 404, 500] {
            let error = verdict(report(CURLE_OK, status: status, contentType: "text/plain", body: policy, connected: true))
            XCTAssertEqual(error?.reason, .httpStatus, "\(status)")
            XCTAssertEqual(error?.message, "HTTP status \(status); only 200 is accepted")
        }
    }

    func testTheHeadersVerdictComesBeforeWhatHappenedToTheBody() {
        var notFound = report(CURLE_WRITE_ERROR, status: 404, contentType: "text/html", connected: true)
        notFound.overLimit = true
        XCTAssertEqual(verdict(notFound)?.reason, .httpStatus)
        XCTAssertEqual(verdict(report(CURLE_OPERATION_TIMEDOUT, status: 200, contentType: "text/html", connected: true))?.reason, .contentType)
    }

    func testMediaTypeMustBeTextPlain() {
        let html = verdict(report(CURLE_OK, status: 200, contentType: "text/html; charset=utf-8", body: policy, connected: true))
        XCTAssertEqual(html?.reason, .contentType)
        XCTAssertEqual(html?.message, "media type \"text/html; charset=utf-8\"; the policy must be text/plain")
        XCTAssertEqual(verdict(report(CURLE_OK, status: 200, body: policy, connected: true))?.message, "no Content-Type; the policy must be text/plain")
    }

    func testTooLargeWithAndWithoutContentLength() {
        var declared = report(CURLE_FILESIZE_EXCEEDED, message: "Maximum file size exceeded", status: 200, contentType: "text/plain", connected: true)
        declared.contentLength = 70086
        XCTAssertEqual(verdict(declared)?.reason, .tooLarge)
        XCTAssertEqual(verdict(declared)?.message, "the policy's Content-Length is 70086 bytes, over the 65536-byte limit; not read")
        var chunked = report(CURLE_WRITE_ERROR, message: "Failure writing output to destination", status: 200, contentType: "text/plain", connected: true)
        chunked.body = [UInt8](repeating: 0x61, count: 65000)
        chunked.received = 69632
        chunked.overLimit = true
        XCTAssertEqual(verdict(chunked)?.reason, .tooLarge)
        XCTAssertEqual(verdict(chunked)?.message, "the policy is over the 65536-byte limit: stopped after 69632 bytes")
        XCTAssertEqual(verdict(chunked)?.kind, .stsPolicyFetchError)
    }

    func testBodyMustBeUTF8() {
        XCTAssertNil(FetchClassifier.checkBody(Array("mx: bücher.example\n".utf8)))
        let latin1 = verdict(report(CURLE_OK, status: 200, contentType: "text/plain", body: Array("mode: caf".utf8) + [0xE9, 0x0A], connected: true))
        XCTAssertEqual(latin1?.reason, .encoding)
        XCTAssertEqual(latin1?.message, "the policy (11 bytes) is not UTF-8: invalid byte 0xE9 at offset 9")
        XCTAssertEqual(FetchClassifier.firstInvalidUTF8([0x61, 0xC3]), 1)
        XCTAssertEqual(FetchClassifier.firstInvalidUTF8([0xED, 0xA0, 0x80]), 0)  // an encoded surrogate
        XCTAssertEqual(FetchClassifier.firstInvalidUTF8([0x61, 0xF0, 0x9F, 0x98, 0x80, 0x0A, 0x05]), nil)
        XCTAssertEqual(FetchClassifier.checkBody([0x0A, 0x01])?.message, nil)
        XCTAssertEqual(FetchClassifier.checkBody([0x0A, 0xFF])?.message, "the policy (2 bytes) is not UTF-8: invalid byte 0xFF at offset 1")
    }

    func testAProxyRefusingTheTunnelIsAConnectError() {
        var refused = report(CURLE_RECV_ERROR, message: "CONNECT tunnel failed, response 403")
        refused.proxyStatus = 403
        XCTAssertEqual(verdict(refused)?.reason, .connect)
        XCTAssertEqual(verdict(refused)?.message, "the proxy refused the tunnel to mta-sts.example.com: HTTP 403")
    }

    func testContentLengthFromHeaderLines() {
        func after(_ lines: [String]) -> Int? {
            lines.reduce(nil) { ContentLength.next($0, headerLine: Array($1.utf8)) }
        }
        XCTAssertEqual(after(["HTTP/1.1 200 OK\r\n", "Content-Length: 70086\r\n", "\r\n"]), 70086)
        XCTAssertEqual(after(["HTTP/2 200\r\n", "content-length:12\r\n"]), 12)
        // A proxy's CONNECT answer carries its own headers; only the final response's count.
        XCTAssertNil(after(["HTTP/1.1 200 Connection established\r\n", "Content-Length: 5\r\n", "\r\n", "HTTP/1.1 200 OK\r\n", "Transfer-Encoding: chunked\r\n"]))
        XCTAssertNil(after(["HTTP/1.1 200 OK\r\n", "Content-Length: -1\r\n", "Content-Length: 1e5\r\n", "X-Content-Length: 9\r\n"]))
        XCTAssertEqual(after(["HTTP/1.1 200 OK\r\n", "Content-Length: 99999999999999999999999\r\n"]), Int.max)
    }
}

extension TransferReport {
    func with(_ change: (inout TransferReport) -> Void) -> TransferReport {
        var copy = self
        change(&copy)
        return copy
    }
}
