import STSCache
import STSCore

extension CacheRules.Discovery {
    /// What a record that went through `sts-dns | sts-fetch | sts-parse` says, in the cache rules' terms.
    public init(record: JSONObject) {
        guard let txt = record["txt"], record["error"] == nil else {
            self = .dnsFailure
            return
        }
        switch txt["status"]?.stringValue {
        case "found":
            guard let id = txt["id"]?.stringValue else {
                self = .dnsFailure
                return
            }
            guard let fetch = record["fetch"] else {
                self = .policyID(id, .notFetched)
                return
            }
            if fetch["status"]?.stringValue == "ok", let policyJSON = record["policy"],
                policyJSON["status"]?.stringValue == "valid", let policy = Policy(json: policyJSON)
            {
                self = .policyID(id, .fetched(policy))
            } else {
                self = .policyID(id, .failed)
            }
        case "none":
            self = .noPolicy(ttl: txt["ttl"]?.intValue)
        default:
            self = .dnsFailure
        }
    }
}
