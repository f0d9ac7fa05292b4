import STSCache
import STSCore

extension CacheRules.Discovery {
    /// What a record that went through `sts-dns | sts-fetch | sts-parse` says, for the daemon: the same
    /// reading as `sts-cache store`, except that a record it cannot read teaches nothing (as a DNS
    /// failure does), since the daemon has no caller to report it to.
    init(record: JSONObject) {
        guard record["error"] == nil, case .success(let discovery) = Self.read(from: record) else {
            self = .dnsFailure
            return
        }
        self = discovery
    }
}
