/// RFC 8461 §3.1 policy discovery over the TXT RRset found at `_mta-sts.<domain>`.
public enum TXTDiscovery {
    /// What makes a TXT record an STS record, byte for byte: `v=STSv1 ;` and `v=stsv1;` are other records.
    static let versionPrefix = Array("v=STSv1;".utf8)

    /// Decides from the RRset (each record's strings already joined) whether the domain has a policy:
    /// records not beginning with `v=STSv1;` are discarded, exactly one must remain, and it must be valid.
    public static func evaluate(_ records: [[UInt8]]) -> TXTDiscoveryOutcome {
        if records.isEmpty { return .none(.nodata, message: "no TXT records") }
        let candidates = records.filter { $0.starts(with: versionPrefix) }
        switch candidates.count {
        case 0:
            return .none(.noSTSRecord, message: "none of \(records.count) TXT records begins with v=STSv1;")
        case 1:
            do {
                return .found(try STSRecordParser.parse(candidates[0]))
            } catch {
                return .none(.invalidRecord, message: error.message)
            }
        default:
            return .none(.multipleRecords, message: "\(candidates.count) TXT records begin with v=STSv1; (exactly one is allowed)")
        }
    }

    /// A TXT record's character-strings joined as RFC 8461 §3.1 says: without separators.
    public static func concatenate(_ strings: [[UInt8]]) -> [UInt8] {
        strings.flatMap { $0 }
    }
}
