import STSCore
import STSDNS
import Synchronization

/// The addresses of a policy host, A and AAAA asked at once. As in Happy Eyeballs (RFC 8305 §3), once
/// one family has answered with addresses the other gets a short resolution delay and no more: a slow
/// answer for one family must not hold up a fetch that can go ahead over the other. A lookup that
/// misses the delay finishes in the background, bounded by the resolver's own timeout.
struct PolicyHostLookup: Sendable {
    let resolver: UnboundResolver
    var resolutionDelay: Duration = .milliseconds(50)

    /// IPv4 addresses first, then IPv6; empty when neither family gave any in time. Answers that
    /// failed DNSSEC validation give none.
    func addresses(of name: String) async -> [String] {
        await FirstAnswer<[String]>.wait { first in
            let gathered = Gathered(first)
            for (index, type) in [DNSRecordType.a, .aaaa].enumerated() {
                Task {
                    let found = Self.addresses(in: await resolver.resolve(name, type: type))
                    if gathered.add(found, at: index) {
                        let delay = resolutionDelay
                        Task {
                            try? await Task.sleep(for: delay)
                            gathered.finish()
                        }
                    }
                }
            }
        }
    }

    static func addresses(in result: Result<DNSAnswer, STSError>) -> [String] {
        guard case .success(let answer) = result, answer.rcode == DNSAnswer.noError, !answer.bogus else { return [] }
        return answer.records.compactMap { IPAddress.text(bytes: $0) }
    }
}

/// The two families' answers as they come, for the one waiting for them.
private final class Gathered: Sendable {
    private let answer: FirstAnswer<[String]>
    private let families = Mutex<[[String]?]>([nil, nil])

    init(_ answer: FirstAnswer<[String]>) {
        self.answer = answer
    }

    /// Records one family's answer; answers when both are in. True when the resolution delay should
    /// start now (the first family to answer, with addresses).
    func add(_ addresses: [String], at index: Int) -> Bool {
        let (complete, delay) = families.withLock { families in
            families[index] = addresses
            return (families.allSatisfy { $0 != nil } ? Self.joined(families) : nil, !addresses.isEmpty)
        }
        if let complete {
            answer.resume(returning: complete)
            return false
        }
        return delay
    }

    /// The resolution delay is over: answers with what has come (dropped if both were in first).
    func finish() {
        answer.resume(returning: families.withLock { Self.joined($0) })
    }

    /// The addresses come so far, IPv4 first.
    private static func joined(_ families: [[String]?]) -> [String] {
        families.compactMap { $0 }.flatMap { $0 }
    }
}
