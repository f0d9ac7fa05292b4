import STSCore

/// What fetching one policy gave: the body, or an error with its RFC 8460 kind and a reason.
public struct FetchOutcome: Sendable, Equatable {
    public var url: String
    /// The HTTP status, when a response came.
    public var httpStatus: Int?
    public var contentType: String?
    /// The policy text; only on success.
    public var body: String?
    /// Bytes of body received.
    public var bytes: Int
    /// The address connected to (the proxy's when one is used).
    public var ip: String?
    /// Milliseconds from the start until: name resolved, TCP connected, TLS done, all received.
    public var timings: [String: Double]
    public var error: FetchError?

    public init(url: String, httpStatus: Int? = nil, contentType: String? = nil, body: String? = nil, bytes: Int = 0, ip: String? = nil,
                timings: [String: Double] = [:], error: FetchError? = nil)
    {
        self.url = url
        self.httpStatus = httpStatus
        self.contentType = contentType
        self.body = body
        self.bytes = bytes
        self.ip = ip
        self.timings = timings
        self.error = error
    }

    public static let timingKeys = ["dns", "connect", "tls", "total"]

    /// The `fetch` value of a record (schema in sts-fetch(1)).
    public var json: JSONValue {
        var object: JSONObject = ["status": .string(error == nil ? "ok" : "error"), "url": .string(url)]
        if let httpStatus { object["http_status"] = .int(httpStatus) }
        if let contentType { object["content_type"] = .string(contentType) }
        if let body { object["body"] = .string(body) }
        if error == nil { object["bytes"] = .int(bytes) }
        if let ip, !ip.isEmpty { object["ip"] = .string(ip) }
        if !timings.isEmpty {
            var times = JSONObject()
            for key in Self.timingKeys { if let value = timings[key] { times[key] = .double((value * 10).rounded() / 10) } }
            object["timings_ms"] = .object(times)
        }
        if let error {
            object["error"] = ["kind": .string(error.kind.rawValue), "reason": .string(error.reason.rawValue), "message": .string(error.message)]
        }
        return .object(object)
    }
}

/// A failed fetch: `sts-webpki-invalid` for certificate problems, `sts-policy-fetch-error` for the rest.
/// The raw values of `Reason` are part of the record schema: never rename one.
public struct FetchError: Sendable, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        // sts-webpki-invalid
        case expired, notYetValid = "not-yet-valid", nameMismatch = "name-mismatch", untrusted, selfSigned = "self-signed", other
        // sts-policy-fetch-error
        case timeout, connect, dns, tls, httpStatus = "http-status", redirect, contentType = "content-type", tooLarge = "too-large"
        case encoding, proto = "protocol"

        public var kind: ErrorKind {
            switch self {
            case .expired, .notYetValid, .nameMismatch, .untrusted, .selfSigned, .other: .stsWebPKIInvalid
            default: .stsPolicyFetchError
            }
        }
    }

    public var reason: Reason
    public var message: String
    public var kind: ErrorKind { reason.kind }

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}
