import CCurl

/// Turns libcurl's result of a transfer into a `FetchError` (nil: the transfer itself succeeded).
public enum FetchClassifier {
    /// OpenSSL's X509_V_ERR codes that CURLINFO_SSL_VERIFYRESULT reports.
    enum X509 {
        static let certNotYetValid = 9
        static let certHasExpired = 10
        static let selfSignedLeaf = 18
        static let selfSignedInChain = 19
        static let unableToGetLocalIssuer = 20
        static let unableToVerifyLeaf = 21
        static let hostnameMismatch = 62
    }

    public static func classify(code: Int, verifyResult: Int, message: String, tooLarge: Bool, timeout: Double) -> FetchError? {
        if code == Int(CURLE_OK.rawValue) { return nil }
        if tooLarge || code == Int(CURLE_FILESIZE_EXCEEDED.rawValue) {
            return FetchError(.tooLarge, "the policy is larger than 65536 bytes")
        }
        switch code {
        case Int(CURLE_PEER_FAILED_VERIFICATION.rawValue):
            switch verifyResult {
            case X509.certHasExpired: return FetchError(.expired, "the policy host's certificate has expired")
            case X509.certNotYetValid: return FetchError(.notYetValid, "the policy host's certificate is not valid yet")
            case X509.selfSignedLeaf: return FetchError(.selfSigned, "the policy host's certificate is self-signed")
            case X509.selfSignedInChain, X509.unableToGetLocalIssuer, X509.unableToVerifyLeaf:
                return FetchError(.untrusted, "the policy host's certificate does not chain to a trusted root")
            case X509.hostnameMismatch: return FetchError(.nameMismatch, "the policy host's certificate is not valid for its name")
            default:
                // libcurl checks the name itself, after OpenSSL accepted the chain.
                if message.contains("subject name") || message.contains("does not match") {
                    return FetchError(.nameMismatch, "the policy host's certificate is not valid for its name: \(message)")
                }
                return FetchError(.certificate, "the policy host's certificate was refused: \(message)")
            }
        case Int(CURLE_OPERATION_TIMEDOUT.rawValue):
            return FetchError(.timeout, "no complete answer within \(timeout) s")
        case Int(CURLE_COULDNT_RESOLVE_HOST.rawValue):
            return FetchError(.dns, "the policy host's name does not resolve: \(message)")
        case Int(CURLE_COULDNT_RESOLVE_PROXY.rawValue):
            return FetchError(.proxy, "the proxy's name does not resolve: \(message)")
        case Int(CURLE_COULDNT_CONNECT.rawValue):
            return FetchError(.connect, "cannot connect to the policy host: \(message)")
        case Int(CURLE_SSL_CONNECT_ERROR.rawValue), Int(CURLE_SSL_CIPHER.rawValue), Int(CURLE_SSL_CERTPROBLEM.rawValue):
            return FetchError(.tls, "the TLS handshake failed: \(message)")
        case Int(CURLE_UNSUPPORTED_PROTOCOL.rawValue):
            return FetchError(.proto, "refused a non-HTTPS URL: \(message)")
        default:
            return FetchError(.proto, message.isEmpty ? "transfer failed (libcurl error \(code))" : message)
        }
    }

    /// The checks on a completed transfer (RFC 8461 §3.3): status exactly 200, no redirect followed,
    /// media type text/plain, a UTF-8 body.
    public static func check(status: Int, location: String?, contentType: String?, body: [UInt8]) -> FetchError? {
        if (300..<400).contains(status) {
            return FetchError(.redirect, "HTTP \(status) redirect to \(location ?? "?"); redirects are not followed")
        }
        guard status == 200 else { return FetchError(.httpStatus, "HTTP status \(status), not 200") }
        guard MediaType.isTextPlain(contentType) else {
            return FetchError(.contentType, "media type \(contentType.map { "\"\($0)\"" } ?? "missing"), not text/plain")
        }
        guard String(validating: body, as: UTF8.self) != nil else { return FetchError(.encoding, "the policy is not valid UTF-8 text") }
        return nil
    }
}
