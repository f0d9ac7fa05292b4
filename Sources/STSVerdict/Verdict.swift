import STSCore
import STSStage

/// What a record that went through the whole pipeline (sts-dns | sts-fetch | sts-parse) means for
/// mail, and the exact answer the daemon would give Postfix for it.
public struct Verdict: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// A valid policy was fetched.
        case policy
        /// The domain publishes no policy.
        case noPolicy = "no-policy"
        /// The TXT id is the one the caller already knows: nothing was fetched.
        case unchanged
        /// Something failed: DNS, the fetch, or the policy is invalid.
        case error
    }

    public var outcome: Outcome
    /// One line for people.
    public var summary: String
    /// The error's kind, when the outcome is `error`.
    public var errorKind: String?
    /// What the daemon would answer Postfix with nothing cached.
    public var answer: TLSPolicyAnswer?
    /// What DANE puts in the MTA-STS answer's place, when the record has a `dane` status that overrides it.
    public var dane: DANEPrecedence.Override? = nil

    /// The verdict on the MTA-STS part of the record, then DANE precedence (RFC 8461 §2) when the record
    /// went through `sts-dns --dane`: the same rule as the daemon's.
    public static func of(_ record: JSONObject, options: ZoneOptions) -> Verdict {
        var verdict = mtaSTS(record, options: options)
        guard let value = record["dane"] else { return verdict }
        let status = DANEStatus(json: value) ?? .undeterminable(STSError(.invalidInput, "the dane status is malformed"))
        guard let override = DANEPrecedence.override(for: status) else { return verdict }
        verdict.dane = override
        switch override {
        case .daneOnly: verdict.summary = "DANE on every MX host (instead of the MTA-STS verdict: \(verdict.summary))"
        case .dane: verdict.summary = "DANE on some MX hosts (instead of the MTA-STS verdict: \(verdict.summary))"
        case .temporaryFailure(let why):
            verdict.summary = "\(why); Postfix would defer (MTA-STS verdict: \(verdict.summary))"
            verdict.outcome = .error
            if case .undeterminable(let error) = status { verdict.errorKind = error.kind.rawValue }
        }
        return verdict
    }

    static func mtaSTS(_ record: JSONObject, options: ZoneOptions) -> Verdict {
        if let error = record["error"] {
            return failure(error, "")
        }
        guard let txt = record["txt"] else {
            return Verdict(outcome: .error, summary: "the record was not looked up", errorKind: ErrorKind.internalError.rawValue, answer: nil)
        }
        switch txt["status"]?.stringValue {
        case "none":
            let reason = txt["message"]?.stringValue ?? txt["reason"]?.stringValue ?? "no policy"
            return Verdict(outcome: .noPolicy, summary: "no MTA-STS policy: \(reason)", errorKind: nil, answer: .noPolicy("no MTA-STS policy"))
        case "found":
            break
        default:
            return failure(txt["error"], "policy discovery failed: ", answer: .noPolicy("policy discovery failed"))
        }
        guard let fetch = record["fetch"] else {
            let id = txt["id"]?.stringValue ?? ""
            if record["cache"]?["policy_id"]?.stringValue == id {
                return Verdict(outcome: .unchanged, summary: "the policy id \(id) is the known one; nothing fetched", errorKind: nil, answer: nil)
            }
            return Verdict(outcome: .error, summary: "the policy was not fetched", errorKind: ErrorKind.internalError.rawValue, answer: nil)
        }
        guard fetch["status"]?.stringValue == "ok" else {
            return failure(fetch["error"], "the policy could not be fetched: ", answer: .noPolicy("the policy could not be fetched"))
        }
        guard let policyValue = record["policy"], policyValue["status"]?.stringValue == "valid" else {
            return failure(record["policy"]?["error"], "the policy is invalid: ", answer: .noPolicy("the policy is invalid"))
        }
        guard let domain = DomainField.normalizedOrNil(in: record), let policy = Policy(json: policyValue) else {
            return Verdict(outcome: .error, summary: "the policy record is malformed", errorKind: ErrorKind.invalidInput.rawValue, answer: nil)
        }
        let answer = TLSPolicyAnswer.render(policy, domain: domain, options: options)
        return Verdict(outcome: .policy, summary: "MTA-STS policy in \(policy.mode.rawValue) mode", errorKind: nil, answer: answer)
    }

    private static func failure(_ error: JSONValue?, _ prefix: String, answer: TLSPolicyAnswer? = nil) -> Verdict {
        let kind = error?["kind"]?.stringValue ?? ErrorKind.internalError.rawValue
        let message = error?["message"]?.stringValue ?? "unknown error"
        return Verdict(outcome: .error, summary: "\(prefix)\(message)", errorKind: kind, answer: answer)
    }

    /// The answer as the socketmap reply text: `OK <value>`, `NOTFOUND`, or with DANE `TEMP <why>`.
    public var socketmapReply: String? {
        if let dane { return dane.reply.payload }
        switch answer {
        case .policy(let value): return "OK \(value)"
        case .noPolicy: return "NOTFOUND"
        case .tooLarge: return "NOTFOUND"
        case nil: return nil
        }
    }

    public var json: JSONValue {
        var object: JSONObject = ["outcome": .string(outcome.rawValue), "summary": .string(summary)]
        if let errorKind { object["kind"] = .string(errorKind) }
        if let reply = socketmapReply { object["postfix"] = .string(reply) }
        return .object(object)
    }
}

extension DomainField {
    static func normalizedOrNil(in record: JSONObject) -> String? {
        if case .success(let name) = normalized(in: record) { return name }
        return nil
    }
}
