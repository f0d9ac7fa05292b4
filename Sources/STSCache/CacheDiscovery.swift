import STSCore

extension CacheRules.Discovery {
    /// What the record's `txt`, `fetch` and `policy` say, in the cache rules' terms.
    public static func read(from record: JSONObject) -> Result<CacheRules.Discovery, STSError> {
        guard let txt = record["txt"]?.objectValue else {
            return .failure(STSError(.invalidInput, "the record has no \"txt\" object: run sts-dns before sts-cache store"))
        }
        switch txt["status"]?.stringValue {
        case "error":
            return .success(.dnsFailure)
        case "none":
            return .success(.noPolicy(ttl: txt["ttl"]?.intValue))
        case "found":
            break
        default:
            return .failure(STSError(.invalidInput, "\"txt.status\" must be \"found\", \"none\" or \"error\""))
        }
        guard let id = txt["id"]?.stringValue else {
            return .failure(STSError(.invalidInput, "\"txt\" is found but has no string \"id\""))
        }
        // An entry under an id sts-dns could not have found would be stored but never read back (the
        // entry checks refuse it), nor would a failure noted for it.
        guard CacheEntry.isValidID(id) else {
            return .failure(STSError(.invalidInput, "\"txt.id\" \(UntrustedText.quoted(id)) must be 1 to 32 letters and digits"))
        }
        guard let fetch = record["fetch"] else {
            // sts-fetch skipped it: the cached policy is current, or the fetch is backing off.
            return .success(.policyID(id, .notFetched))
        }
        guard fetch["status"]?.stringValue == "ok" else { return .success(.policyID(id, .failed)) }
        guard let policyJSON = record["policy"] else {
            return .failure(STSError(.invalidInput, "the record has a fetched body but no \"policy\": run sts-parse before sts-cache store"))
        }
        guard policyJSON["status"]?.stringValue == "valid" else { return .success(.policyID(id, .failed)) }
        guard let policy = Policy(json: policyJSON) else {
            return .failure(STSError(.invalidInput, "\"policy\" says valid but fails the policy checks"))
        }
        return .success(.policyID(id, .fetched(policy)))
    }
}
