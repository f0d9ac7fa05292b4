import CCurl

/// What libcurl told us about one finished transfer: the raw material of the verdict.
public struct TransferReport: Sendable, Equatable {
    /// The policy host (for messages).
    public var host: String
    /// The transfer's CURLcode.
    public var code: Int
    /// CURLINFO_SSL_VERIFYRESULT: OpenSSL's X509_V_ERR code (libcurl sets 1 when its own name check fails).
    public var verifyResult: Int = 0
    /// libcurl's error buffer.
    public var message: String = ""
    /// CURLINFO_RESPONSE_CODE; 0 when no response came.
    public var status: Int = 0
    /// CURLINFO_HTTP_CONNECTCODE: the proxy's answer to CONNECT; 0 without a proxy.
    public var proxyStatus: Int = 0
    /// CURLINFO_REDIRECT_URL: where a 3xx points.
    public var location: String?
    public var contentType: String?
    /// The Content-Length the server declared, if any.
    public var contentLength: Int?
    /// The body kept (at most the limit).
    public var body: [UInt8] = []
    /// Body bytes the server sent, counting those refused beyond the limit.
    public var received: Int = 0
    /// The write callback refused data beyond the limit.
    public var overLimit = false
    /// The TLS handshake had completed.
    public var connected = false

    public init(host: String, code: Int) {
        self.host = host
        self.code = code
    }
}

/// Turns what libcurl reported about a transfer into the RFC 8461 §3.3 verdict: nil when the policy
/// was fetched correctly, else a `FetchError` with its RFC 8460 kind and a reason.
public enum FetchClassifier {
    /// OpenSSL's X509_V_ERR codes, as CURLINFO_SSL_VERIFYRESULT reports them.
    public enum X509 {
        public static let unableToGetIssuerCert = 2
        public static let certNotYetValid = 9
        public static let certHasExpired = 10
        public static let selfSignedLeaf = 18
        public static let selfSignedInChain = 19
        public static let unableToGetLocalIssuer = 20
        public static let unableToVerifyLeaf = 21
        public static let invalidCA = 24
        public static let certUntrusted = 27
        public static let hostnameMismatch = 62
    }

    public static func error(for report: TransferReport, configuration: FetchConfiguration) -> FetchError? {
        let max = FetchConfiguration.maxBodyBytes
        // Once the response headers are in, their verdict comes first: a 404 page or an HTML page is
        // that, whatever happened to its body afterwards.
        if report.status != 0 {
            if let error = checkHeaders(status: report.status, location: report.location, contentType: report.contentType) { return error }
        }
        if report.code == Int(CURLE_FILESIZE_EXCEEDED.rawValue) || report.overLimit {
            if let length = report.contentLength, length > max {
                return FetchError(.tooLarge, "the policy's Content-Length is \(length) bytes, over the \(max)-byte limit; not read")
            }
            return FetchError(.tooLarge, "the policy is over the \(max)-byte limit: stopped after \(report.received) bytes")
        }
        if let error = transferError(report, configuration: configuration) { return error }
        guard report.status != 0 else { return FetchError(.proto, "no HTTP response from \(report.host)") }
        return checkBody(report.body)
    }

    /// The error for a transfer libcurl did not complete; nil when it did.
    static func transferError(_ report: TransferReport, configuration: FetchConfiguration) -> FetchError? {
        let code = report.code
        let host = report.host
        let detail = report.message.isEmpty ? "libcurl error \(code)" : report.message
        switch code {
        case Int(CURLE_OK.rawValue):
            return nil
        case Int(CURLE_PEER_FAILED_VERIFICATION.rawValue):
            return certificateError(report)
        case Int(CURLE_OPERATION_TIMEDOUT.rawValue):
            if !report.connected {
                let limit = min(configuration.connectTimeout, configuration.timeout)
                return FetchError(.timeout, "no TLS connection to \(host) within \(seconds(limit)) (\(detail))")
            }
            if report.status == 0 {
                return FetchError(.timeout, "\(host) sent no answer within \(seconds(configuration.timeout)) (\(detail))")
            }
            return FetchError(.timeout, "\(host) did not send the whole policy within \(seconds(configuration.timeout)): \(report.received) bytes received")
        case Int(CURLE_COULDNT_RESOLVE_HOST.rawValue):
            return FetchError(.dns, "the policy host \(host) does not resolve (\(detail))")
        case Int(CURLE_COULDNT_RESOLVE_PROXY.rawValue):
            return FetchError(.dns, "the proxy's name does not resolve (\(detail))")
        case Int(CURLE_COULDNT_CONNECT.rawValue):
            return FetchError(.connect, "cannot connect to \(host) (\(detail))")
        case Int(CURLE_SSL_CONNECT_ERROR.rawValue), Int(CURLE_SSL_CIPHER.rawValue), Int(CURLE_SSL_ENGINE_INITFAILED.rawValue),
            Int(CURLE_SSL_CACERT_BADFILE.rawValue), Int(CURLE_SSL_CERTPROBLEM.rawValue):
            return FetchError(.tls, "the TLS handshake with \(host) failed (\(detail))")
        default:
            // libcurl reports a refused CONNECT tunnel as a receive error; the proxy's status says it.
            if report.proxyStatus != 0 && report.proxyStatus / 100 != 2 {
                return FetchError(.connect, "the proxy refused the tunnel to \(host): HTTP \(report.proxyStatus)")
            }
            return FetchError(.proto, "the transfer from \(host) failed (\(detail))")
        }
    }

    /// CURLE_PEER_FAILED_VERIFICATION: OpenSSL's verify result names the problem. A name mismatch is
    /// X509.hostnameMismatch from OpenSSL's own check of the policy host (subjectAltName only, see
    /// `sts_verify_dns_id` in CCurl); should libcurl's later check refuse the name instead, only its
    /// message says so. Both are the same verdict.
    static func certificateError(_ report: TransferReport) -> FetchError {
        let host = report.host
        let detail = report.message
        switch report.verifyResult {
        case X509.certHasExpired:
            return FetchError(.expired, "the certificate of \(host) has expired (\(detail))")
        case X509.certNotYetValid:
            return FetchError(.notYetValid, "the certificate of \(host) is not valid yet (\(detail))")
        case X509.selfSignedLeaf:
            return FetchError(.selfSigned, "the certificate of \(host) is self-signed (\(detail))")
        case X509.selfSignedInChain, X509.unableToGetLocalIssuer, X509.unableToGetIssuerCert, X509.unableToVerifyLeaf, X509.invalidCA,
            X509.certUntrusted:
            return FetchError(.untrusted, "the certificate of \(host) does not chain to a trusted root (\(detail))")
        case X509.hostnameMismatch:
            return FetchError(.nameMismatch, "the certificate is not valid for \(host) (\(detail))")
        default:
            if detail.contains("subject name") || detail.contains("does not match target host") {
                return FetchError(.nameMismatch, "the certificate is not valid for \(host) (\(detail))")
            }
            return FetchError(.other, "the certificate of \(host) was refused (\(detail.isEmpty ? "verify result \(report.verifyResult)" : detail))")
        }
    }

    /// RFC 8461 §3.3 on the response headers: status exactly 200 (a redirect is not followed), media
    /// type text/plain.
    public static func checkHeaders(status: Int, location: String?, contentType: String?) -> FetchError? {
        if [300, 301, 302, 303, 307, 308].contains(status) {
            let target = location.map { "to \($0)" } ?? "without a Location"
            return FetchError(.redirect, "HTTP \(status) redirect \(target); redirects are not followed")
        }
        guard status == 200 else { return FetchError(.httpStatus, "HTTP status \(status); only 200 is accepted") }
        guard MediaType.isTextPlain(contentType) else {
            let given = contentType.map { "media type \"\($0)\"" } ?? "no Content-Type"
            return FetchError(.contentType, "\(given); the policy must be text/plain")
        }
        return nil
    }

    /// The body must be UTF-8 text.
    public static func checkBody(_ body: [UInt8]) -> FetchError? {
        guard let offset = firstInvalidUTF8(body) else { return nil }
        let byte = String(body[offset], radix: 16, uppercase: true)
        return FetchError(.encoding, "the policy (\(body.count) bytes) is not UTF-8: invalid byte 0x\(byte.count == 1 ? "0" + byte : byte) at offset \(offset)")
    }

    /// The offset of the first byte that is not part of a valid UTF-8 sequence, nil if all are.
    public static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}

/// The Content-Length seen in a response's header lines.
public enum ContentLength {
    /// The value after one more header line: reset by a status line, set by a valid Content-Length.
    public static func next(_ current: Int?, headerLine: [UInt8]) -> Int? {
        guard let text = String(validating: headerLine, as: UTF8.self) else { return current }
        if text.hasPrefix("HTTP/") { return nil }
        guard let colon = text.firstIndex(of: ":"), text[..<colon].lowercased() == "content-length" else { return current }
        let value = text[text.index(after: colon)...].trimming(" \t\r\n")
        guard !value.isEmpty, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return current }
        return Int(value) ?? Int.max
    }
}
