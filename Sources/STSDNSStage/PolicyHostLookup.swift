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
        let gathered = Gathered()
        return await withCheckedContinuation { continuation in
            gathered.set(continuation)
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

/// The two families' answers as they come, and the one waiting for them.
private final class Gathered: Sendable {
    fileprivate struct State {
        var continuation: CheckedContinuation<[String], Never>?
        var families: [[String]?] = [nil, nil]
    }
    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<[String], Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Records one family's answer; resumes the waiter when both are in. True when the resolution
    /// delay should start now (the first family to answer, with addresses).
    func add(_ addresses: [String], at index: Int) -> Bool {
        state.withLock { state in
            state.families[index] = addresses
            if state.families.allSatisfy({ $0 != nil }) {
                state.answer()
                return false
            }
            return !addresses.isEmpty
        }
    }

    /// The resolution delay is over: answers with what has come.
    func finish() {
        state.withLock { $0.answer() }
    }
}

extension Gathered.State {
    /// Resumes the waiter, if it still waits, with the addresses come so far (IPv4 first).
    fileprivate mutating func answer() {
        continuation.take()?.resume(returning: families.compactMap { $0 }.flatMap { $0 })
    }
}
