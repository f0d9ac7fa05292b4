extension DANEStatus {
    /// The `dane` value of a pipeline record (written by `sts-dns --dane`):
    ///
    ///     {"status": "usable", "all_hosts": true, "hosts": [{"host": "mx.example.com", "tlsa": "usable", "records": ["3 1 1 ..."]}], "ttl": 300}
    ///     {"status": "none", "reason": "insecure-mx" | "no-tlsa" | "null-mx" | "nxdomain" | "no-validation", "message": "...", "hosts": [...], "ttl": 300}
    ///     {"status": "error", "error": {"kind": "dns-bogus" | "dns-servfail" | "dns-timeout" | "dns-error", "message": "..."}}
    public var json: JSONValue {
        switch self {
        case .usable(let hosts, let ttl):
            return ["status": "usable", "all_hosts": .bool(coversAllHosts), "hosts": .array(hosts.map(\.json)), "ttl": .int(ttl)]
        case .absent(let reason, let message, let hosts, let ttl):
            var object: JSONObject = ["status": "none", "reason": .string(reason.rawValue), "message": .string(message)]
            if !hosts.isEmpty { object["hosts"] = .array(hosts.map(\.json)) }
            object["ttl"] = .int(ttl)
            return .object(object)
        case .undeterminable(let error):
            return ["status": "error", "error": error.json]
        }
    }

    /// Reads the JSON form back, every field checked (it comes from another process); nil when it is
    /// not a DANE status.
    public init?(json: JSONValue) {
        switch json["status"]?.stringValue {
        case "usable":
            guard let hosts = Self.hosts(json["hosts"]), !hosts.isEmpty, hosts.contains(where: { $0.tlsa == .usable }),
                let ttl = json["ttl"]?.intValue, ttl >= 0
            else { return nil }
            self = .usable(hosts: hosts, ttl: Int(ttl))
        case "none":
            guard let reason = json["reason"]?.stringValue.flatMap(DANEAbsence.init(rawValue:)), let ttl = json["ttl"]?.intValue, ttl >= 0 else { return nil }
            let hosts = json["hosts"] == nil ? [] : Self.hosts(json["hosts"])
            guard let hosts else { return nil }
            self = .absent(reason: reason, message: json["message"]?.stringValue ?? reason.rawValue, hosts: hosts, ttl: Int(ttl))
        case "error":
            let kind = json["error"]?["kind"]?.stringValue.flatMap(ErrorKind.init(rawValue:)) ?? .dnsError
            self = .undeterminable(STSError(kind, json["error"]?["message"]?.stringValue ?? "DANE lookup failed"))
        default:
            return nil
        }
    }

    private static func hosts(_ value: JSONValue?) -> [DANEHost]? {
        guard case .array(let items)? = value else { return nil }
        var hosts: [DANEHost] = []
        for item in items {
            guard let name = item["host"]?.stringValue, DomainName.isValidHostname(name),
                let state = item["tlsa"]?.stringValue.flatMap(DANEHost.TLSAState.init(rawValue:))
            else { return nil }
            var records: [String] = []
            if case .array(let texts)? = item["records"] {
                records = texts.compactMap(\.stringValue)
            }
            hosts.append(DANEHost(host: name, tlsa: state, records: records))
        }
        return hosts
    }
}

extension DANEHost {
    public var json: JSONValue {
        var object: JSONObject = ["host": .string(host), "tlsa": .string(tlsa.rawValue)]
        if !records.isEmpty { object["records"] = .array(records.map { .string($0) }) }
        return .object(object)
    }
}
