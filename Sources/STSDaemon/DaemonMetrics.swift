import Metrics
import STSCore
import Synchronization

/// The daemon's metrics, named once. Recorded through swift-metrics; exported by `MetricsServer`.
public enum DaemonMetrics {
    /// One per lookup: `answer` (ok, notfound, temp, perm) and `from` (cache, refreshed, budget, none).
    public static func lookup(answer: String, from: String, nanoseconds: UInt64) {
        let (counter, timer) = lookupHandles(answer: answer, from: from)
        counter.increment()
        timer.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// Every known pair has its handles made once, with the first lookup, and found after by comparing
    /// short strings (no hashing, no lock); an unknown one, which no caller makes today, is looked up
    /// in the registry.
    private static func lookupHandles(answer: String, from: String) -> (Counter, Timer) {
        for handles in knownLookupHandles where handles.answer == answer && handles.from == from {
            return (handles.counter, handles.timer)
        }
        return makeLookupHandles(answer: answer, from: from)
    }
    private static let knownLookupHandles: [(answer: String, from: String, counter: Counter, timer: Timer)] = {
        // The common pairs first: answers from the cache.
        var handles: [(answer: String, from: String, counter: Counter, timer: Timer)] = []
        for from in ["cache", "refreshed", "budget", "none"] {
            for answer in ["ok", "notfound", "temp", "timeout", "perm"] {
                let (counter, timer) = makeLookupHandles(answer: answer, from: from)
                handles.append((answer, from, counter, timer))
            }
        }
        return handles
    }()
    private static func makeLookupHandles(answer: String, from: String) -> (Counter, Timer) {
        (Counter(label: "sts_lookups_total", dimensions: [("answer", answer), ("from", from)]),
         Timer(label: "sts_lookup_duration_seconds", dimensions: [("from", from)]))
    }

    /// Whether a lookup was answered from a fresh cache entry without any stage.
    public static func cache(hit: Bool) {
        (hit ? cacheHits : cacheMisses).increment()
    }

    private static let cacheHits = Counter(label: "sts_cache_lookups_total", dimensions: [("result", "hit")])
    private static let cacheMisses = Counter(label: "sts_cache_lookups_total", dimensions: [("result", "miss")])

    /// One per discovery through the stages: the TXT outcome (found, none, or the DNS error kind).
    public static func discovery(outcome: String, seconds: Double) {
        Counter(label: "sts_dns_lookups_total", dimensions: [("outcome", outcome)]).increment()
        Timer(label: "sts_discovery_duration_seconds").recordNanoseconds(Int64(seconds * 1e9))
    }

    /// One per policy fetch: `ok` or its RFC 8460 kind.
    public static func fetch(kind: String, milliseconds: Double?) {
        Counter(label: "sts_fetches_total", dimensions: [("kind", kind)]).increment()
        if let milliseconds { Timer(label: "sts_fetch_duration_seconds").recordNanoseconds(Int64(milliseconds * 1e6)) }
    }

    /// One per DANE status learnt: usable, none (its reason) or the error kind.
    public static func dane(_ status: DANEStatus) {
        let outcome: String
        switch status {
        case .usable: outcome = status.coversAllHosts ? "dane-only" : "dane"
        case .absent(let reason, _, _, _): outcome = "none-" + reason.rawValue
        case .undeterminable(let error): outcome = error.kind.rawValue
        }
        Counter(label: "sts_dane_lookups_total", dimensions: [("outcome", outcome)]).increment()
    }

    /// A client connection closed on accept because `max_connections` were open.
    public static func connectionRefused() {
        Counter(label: "sts_connections_refused_total").increment()
    }

    public static func stageRestart() {
        Counter(label: "sts_stage_restarts_total").increment()
    }

    /// The stages were let go after `stage_max_idle` without work (they start again when needed).
    public static func stageIdleExit() {
        Counter(label: "sts_stage_idle_exits_total").increment()
    }

    /// A lookup refused because the stages had as many lookups as they take (`StageClient.maxInFlight`).
    public static func lookupRefused() {
        Counter(label: "sts_stage_lookups_refused_total").increment()
    }

    /// A refreshed entry kept in memory only, because as many durable writes wait as may (`PolicyService`).
    public static func cacheWriteSkipped() {
        Counter(label: "sts_cache_writes_skipped_total").increment()
    }

    /// Log lines dropped because the log was written more slowly than lines came (see `LineLogHandler.Sink`).
    public static func logLinesDropped(_ count: Int) {
        Counter(label: "sts_log_lines_dropped_total").increment(by: Int64(count))
    }
}
