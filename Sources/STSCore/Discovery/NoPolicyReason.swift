/// Why discovery found no policy, as written in `txt.reason`. The raw values are part of the stage contract.
public enum NoPolicyReason: String, Sendable {
    /// `_mta-sts.<domain>` does not exist (set by the DNS stage).
    case nxdomain
    /// The name exists but has no TXT records.
    case nodata
    /// No TXT record begins with `v=STSv1;`.
    case noSTSRecord = "no-sts-record"
    /// More than one TXT record begins with `v=STSv1;`.
    case multipleRecords = "multiple-records"
    /// The one STS record does not follow the grammar.
    case invalidRecord = "invalid-record"
}
