import STSCore

/// sts-query's human-readable report of one record that went through the pipeline.
public enum QueryReport {
    public static func text(_ record: JSONObject, verdict: Verdict) -> String {
        var lines: [String] = []
        func add(_ label: String, _ text: String) { lines.append(label + String(repeating: " ", count: max(0, 9 - label.count)) + text) }

        add("Domain:", record["domain"]?.stringValue ?? "?")
        if let txt = record["txt"] {
            switch txt["status"]?.stringValue {
            case "found":
                var text = "\(txt["name"]?.stringValue ?? "") \"\(txt["record"]?.stringValue ?? "")\" (id \(txt["id"]?.stringValue ?? "?")"
                if let ttl = txt["ttl"]?.intValue { text += ", ttl \(ttl)s" }
                if let cname = txt["cname"]?.stringValue { text += ", via CNAME \(cname)" }
                if let dnssec = txt["dnssec"]?.stringValue { text += ", DNSSEC \(dnssec)" }
                add("TXT:", text + ")")
            case "none":
                add("TXT:", "none (\(txt["reason"]?.stringValue ?? "?")): \(txt["message"]?.stringValue ?? "")")
            default:
                add("TXT:", "error \(txt["error"]?["kind"]?.stringValue ?? "?"): \(txt["error"]?["message"]?.stringValue ?? "")")
            }
        }
        if let fetch = record["fetch"] {
            let url = fetch["url"]?.stringValue ?? ""
            if fetch["status"]?.stringValue == "ok" {
                var text = "\(url) \(fetch["http_status"]?.intValue.map(String.init) ?? "") \(fetch["content_type"]?.stringValue ?? ""), \(fetch["bytes"]?.intValue ?? 0) bytes"
                if let total = fetch["timings_ms"]?["total"]?.doubleValue { text += ", \(Int(total.rounded())) ms" }
                add("Fetch:", text)
            } else {
                add("Fetch:", "\(url) error \(fetch["error"]?["kind"]?.stringValue ?? "?"): \(fetch["error"]?["message"]?.stringValue ?? "")")
            }
        }
        if let policy = record["policy"] {
            if policy["status"]?.stringValue == "valid" {
                let mx = policy["mx"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""
                add("Policy:", "mode \(policy["mode"]?.stringValue ?? "?"), max_age \(policy["max_age"]?.intValue ?? 0)s, mx \(mx.isEmpty ? "(none)" : mx)")
            } else {
                add("Policy:", "invalid: \(policy["error"]?["message"]?.stringValue ?? "")")
            }
        }
        if let dane = record["dane"] {
            add("DANE:", danePart(dane))
        }
        if let reply = verdict.socketmapReply { add("Postfix:", reply) }
        add("Verdict:", verdict.summary)
        return lines.joined(separator: "\n")
    }

    /// One line on the DANE status: every MX host and what its TLSA lookup found.
    static func danePart(_ dane: JSONValue) -> String {
        let hosts = dane["hosts"]?.arrayValue?.map { host -> String in
            let name = host["host"]?.stringValue ?? "?"
            let state = host["tlsa"]?.stringValue ?? "?"
            let records = host["records"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return records.isEmpty ? "\(name) TLSA \(state)" : "\(name) TLSA \(state) [\(records.joined(separator: "; "))]"
        } ?? []
        switch dane["status"]?.stringValue {
        case "usable":
            return "usable TLSA records: " + hosts.joined(separator: ", ")
        case "none":
            let text = "none (\(dane["reason"]?.stringValue ?? "?")): \(dane["message"]?.stringValue ?? "")"
            return hosts.isEmpty ? text : text + "; " + hosts.joined(separator: ", ")
        default:
            return "error \(dane["error"]?["kind"]?.stringValue ?? "?"): \(dane["error"]?["message"]?.stringValue ?? "")"
        }
    }
}
