import STSCache
import STSCacheStages
import STSCore
import STSFetch
import STSStage
import Synchronization
import XCTest

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let time: Mutex<Int64>
    init(_ start: Int64) { time = Mutex(start) }
    var now: Int64 { time.withLock { $0 } }
    func set(_ value: Int64) { time.withLock { $0 = value } }
    var source: @Sendable () -> Int64 { { [self] in now } }
    /// A source that moves one second on every reading.
    var ticking: @Sendable () -> Int64 { { [self] in time.withLock { $0 += 1; return $0 } } }
}

/// A backend whose every call fails, as a damaged or vanished store would.
struct FailingCache: CacheBackend {
    static let error = STSError(.internalError, "sqlite cache c.db: disk I/O error")
    func get(_ domain: String) async throws(STSError) -> CacheEntry? { throw Self.error }
    func put(_ entry: CacheEntry) async throws(STSError) { throw Self.error }
    func delete(_ domain: String) async throws(STSError) { throw Self.error }
    func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] { throw Self.error }
    func purgeAll() async throws(STSError) { throw Self.error }
    func count() async throws(STSError) -> Int { throw Self.error }
}

/// Shared fixtures: policies, entries and pipeline records.
enum CacheFixtures {
    static let rules = CacheRules(grace: 60, refetchInterval: 86400, failureBackoff: 300, negativeTTL: 60...3600)
    static let enforce = Policy(mode: .enforce, maxAge: 86400, mx: [MXPattern("mail.example.com")!, MXPattern("*.example.net")!],
                                lines: ["version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net", "max_age: 86400"])
    static let none = Policy(mode: .none, maxAge: 600, mx: [], lines: ["version: STSv1", "mode: none", "max_age: 600"])

    static func positive(id: String = "a1", fetchedAt: Int64 = 1000, confirmedAt: Int64 = 1000, expiresAt: Int64 = 87400, domain: String = "example.com") -> CacheEntry {
        CacheEntry(domain: domain, policyID: id, policy: enforce, fetchedAt: fetchedAt, confirmedAt: confirmedAt, expiresAt: expiresAt)
    }

    static func negative(at time: Int64 = 1000, expiresAt: Int64 = 1300) -> CacheEntry {
        CacheEntry(domain: "example.com", policyID: nil, policy: nil, fetchedAt: time, confirmedAt: time, expiresAt: expiresAt)
    }

    static func found(_ id: String) -> JSONValue { ["status": "found", "id": .string(id), "record": .string("v=STSv1; id=\(id);"), "ttl": 300] }
    static let fetchOK: JSONValue = ["status": "ok", "http_status": 200, "body": "..."]
    static let fetchFailed: JSONValue = ["status": "error", "error": ["kind": "sts-policy-fetch-error", "message": "HTTP 404"]]

    static func record(_ members: (String, JSONValue)...) -> JSONObject {
        JSONObject([("domain", "example.com")] + members)
    }
}

final class CacheLookupStageTests: XCTestCase {
    typealias F = CacheFixtures

    func lookup(_ record: JSONObject, cached: CacheEntry?, at now: Int64, rules: CacheRules = F.rules) async throws -> JSONValue? {
        let backend = MemoryCache(capacity: 10)
        if let cached { try await backend.put(cached) }
        let stage = CacheLookupStage(backend: backend, rules: rules, now: { now })
        return await stage.process(record)["cache"]
    }

    func testMiss() async throws {
        let cache = try await lookup(F.record(), cached: nil, at: 1000)
        XCTAssertEqual(cache, ["status": "miss"])
    }

    func testHitCarriesTheEntryAndItsSummary() async throws {
        let cache = try await lookup(F.record(("txt", F.found("a1"))), cached: F.positive(), at: 2000)
        XCTAssertEqual(cache, [
            "status": "hit", "fresh": true, "negative": false, "expired": false, "policy_id": "a1", "expires_at": 87400,
            "entry": F.positive().json,
        ])
    }

    func testWithTheDiscoveredIdFreshMeansSameIdUnexpiredAndNoRefetchDue() async throws {
        // The TXT record was just looked up, so cache_grace plays no part: long after it, still fresh.
        var cache = try await lookup(F.record(("txt", F.found("a1"))), cached: F.positive(), at: 50_000)
        XCTAssertEqual(cache?["fresh"], true)
        cache = try await lookup(F.record(("txt", F.found("b2"))), cached: F.positive(), at: 2000)
        XCTAssertEqual(cache?["fresh"], false, "another id must be fetched")
        XCTAssertEqual(cache?["policy_id"], "a1")
        cache = try await lookup(F.record(("txt", F.found("a1"))), cached: F.positive(expiresAt: 3000), at: 3000)
        XCTAssertEqual(cache?["fresh"], false, "expired")
        XCTAssertEqual(cache?["expired"], true)
        cache = try await lookup(F.record(("txt", F.found("a1"))), cached: F.positive(expiresAt: 1_000_000), at: 1000 + 86400)
        XCTAssertEqual(cache?["fresh"], false, "the body is re-fetched daily even under the same id")
    }

    func testFreshMatchesWhatSTSFetchSkipsOn() async throws {
        var record = F.record(("txt", F.found("a1")))
        record["cache"] = try await lookup(record, cached: F.positive(), at: 2000)
        XCTAssertEqual(FetchSkip.reason(for: record), .cachedFresh)
        record = F.record(("txt", F.found("b2")))
        record["cache"] = try await lookup(record, cached: F.positive(), at: 2000)
        XCTAssertNil(FetchSkip.reason(for: record), "a new id is fetched")
    }

    func testNegativeEntries() async throws {
        var cache = try await lookup(F.record(("txt", F.found("a1"))), cached: F.negative(), at: 1010)
        XCTAssertEqual(cache?["status"], "hit")
        XCTAssertEqual(cache?["negative"], true)
        XCTAssertEqual(cache?["fresh"], false, "a published policy is fetched whatever a negative entry says")
        XCTAssertNil(cache?["policy_id"])
        cache = try await lookup(F.record(("txt", ["status": "none", "reason": "nxdomain"])), cached: F.negative(), at: 1010)
        XCTAssertEqual(cache?["fresh"], true)
        cache = try await lookup(F.record(), cached: F.negative(), at: 1010)
        XCTAssertEqual(cache?["fresh"], true)
        cache = try await lookup(F.record(), cached: F.negative(), at: 1300)
        XCTAssertEqual(cache?["fresh"], false)
        XCTAssertEqual(cache?["expired"], true)
    }

    func testWithoutADiscoveredIdFreshMeansWithinGrace() async throws {
        var cache = try await lookup(F.record(), cached: F.positive(), at: 1059)
        XCTAssertEqual(cache?["fresh"], true)
        cache = try await lookup(F.record(), cached: F.positive(), at: 1060)
        XCTAssertEqual(cache?["fresh"], false, "cache_grace over: the TXT id must be checked again")
        cache = try await lookup(F.record(), cached: F.positive(), at: 1060, rules: CacheRules(grace: 120))
        XCTAssertEqual(cache?["fresh"], true, "--grace sets the window")
        cache = try await lookup(F.record(("txt", ["status": "error", "error": ["kind": "dns-servfail", "message": "x"]])), cached: F.positive(), at: 1030)
        XCTAssertEqual(cache?["fresh"], true, "a failed lookup says nothing about the id")
        cache = try await lookup(F.record(), cached: F.positive(), at: 1000, rules: CacheRules(grace: 0))
        XCTAssertEqual(cache?["fresh"], false)
    }

    func testFailureBackOffIsReported() async throws {
        var entry = F.positive()
        entry.failedAt = 2000
        entry.failedID = "b2"
        var record = F.record(("txt", F.found("b2")))
        let cache = try await lookup(record, cached: entry, at: 2299)
        XCTAssertEqual(cache?["backoff_id"], "b2")
        XCTAssertEqual(cache?["fresh"], false)
        record["cache"] = cache
        XCTAssertEqual(FetchSkip.reason(for: record), .backoff)
        let later = try await lookup(record, cached: entry, at: 2300)
        XCTAssertNil(later?["backoff_id"], "one failed fetch per id every 5 minutes, then another try")
    }

    func testUnusableDomainGetsATopLevelErrorAndOtherKeysPassThrough() async throws {
        let stage = CacheLookupStage(backend: MemoryCache(capacity: 10), rules: F.rules, now: { 1000 })
        let bad = await stage.process(["id": 7, "domain": "192.0.2.1"])
        XCTAssertEqual(bad["error"]?["kind"], "invalid-domain")
        XCTAssertNil(bad["cache"])
        let input: JSONObject = ["id": ["opaque": [1, .number("2.50")]], "domain": "Example.COM.", "extra": nil]
        let output = await stage.process(input)
        XCTAssertEqual(output.keys, ["id", "domain", "extra", "cache"])
        XCTAssertEqual(output["id"], input["id"])
        XCTAssertEqual(output["domain"], "Example.COM.", "the domain is normalised for the lookup, not rewritten")
    }

    func testBackendFailureIsARecordError() async {
        let stage = CacheLookupStage(backend: FailingCache(), rules: F.rules, now: { 1000 })
        let output = await stage.process(F.record())
        XCTAssertEqual(output["cache"], ["status": "error", "error": FailingCache.error.json])
    }
}

final class CacheStoreStageTests: XCTestCase {
    typealias F = CacheFixtures

    /// Stores `record` over `cached` at `now`: the stage's `cache` value and what the backend holds after.
    func store(_ record: JSONObject, cached: CacheEntry?, at now: Int64) async throws -> (JSONValue?, CacheEntry?) {
        let backend = MemoryCache(capacity: 10)
        if let cached { try await backend.put(cached) }
        let stage = CacheStoreStage(backend: backend, rules: F.rules, now: { now })
        let output = await stage.process(record)
        return (output["cache"], try await backend.get("example.com"))
    }

    func testDNSFailureChangesNothing() async throws {
        let txt: JSONValue = ["status": "error", "error": ["kind": "dns-timeout", "message": "x"]]
        var (cache, stored) = try await store(F.record(("txt", txt)), cached: nil, at: 2000)
        XCTAssertEqual(cache, ["status": "unchanged"])
        XCTAssertNil(stored)
        (cache, stored) = try await store(F.record(("txt", txt)), cached: F.positive(), at: 2000)
        XCTAssertEqual(cache, ["status": "unchanged"])
        XCTAssertEqual(stored, F.positive())
    }

    func testNoPolicyStoresANegativeEntryForTheDNSTTLWithinBounds() async throws {
        var (cache, stored) = try await store(F.record(("txt", ["status": "none", "reason": "nxdomain", "ttl": 300])), cached: nil, at: 2000)
        let expected = CacheEntry(domain: "example.com", policyID: nil, policy: nil, fetchedAt: 2000, confirmedAt: 2000, expiresAt: 2300)
        XCTAssertEqual(cache, ["status": "stored", "entry": expected.json])
        XCTAssertEqual(stored, expected)
        (_, stored) = try await store(F.record(("txt", ["status": "none", "reason": "nodata", "ttl": 5])), cached: nil, at: 2000)
        XCTAssertEqual(stored?.expiresAt, 2060)
        (_, stored) = try await store(F.record(("txt", ["status": "none", "reason": "nodata", "ttl": 86400])), cached: nil, at: 2000)
        XCTAssertEqual(stored?.expiresAt, 5600)
        (_, stored) = try await store(F.record(("txt", ["status": "none", "reason": "no-sts-record"])), cached: nil, at: 2000)
        XCTAssertEqual(stored?.expiresAt, 2060, "no TTL: the shortest")
    }

    func testAbsentTXTDoesNotEvictACachedPolicy() async throws {
        let (cache, stored) = try await store(F.record(("txt", ["status": "none", "reason": "nxdomain", "ttl": 300])), cached: F.positive(), at: 2000)
        let confirmed = F.positive(confirmedAt: 2000)
        XCTAssertEqual(cache, ["status": "stored", "entry": confirmed.json], "kept, and confirmed for cache_grace")
        XCTAssertEqual(stored, confirmed)
    }

    func testAValidPolicyIsStored() async throws {
        let record = F.record(("txt", F.found("b2")), ("fetch", F.fetchOK), ("policy", F.enforce.json))
        let (cache, stored) = try await store(record, cached: nil, at: 2000)
        let expected = F.positive(id: "b2", fetchedAt: 2000, confirmedAt: 2000, expiresAt: 2000 + 86400)
        XCTAssertEqual(cache, ["status": "stored", "entry": expected.json])
        XCTAssertEqual(stored, expected)
    }

    func testAFetchedNoneReplacesACachedEnforceAtOnce() async throws {
        let record = F.record(("txt", F.found("b2")), ("fetch", F.fetchOK), ("policy", F.none.json))
        let (_, stored) = try await store(record, cached: F.positive(), at: 2000)
        XCTAssertEqual(stored?.policyID, "b2")
        XCTAssertEqual(stored?.policy, F.none)
        XCTAssertEqual(stored?.expiresAt, 2600)
    }

    func testAFailedFetchKeepsTheCachedPolicyAndStartsTheBackOff() async throws {
        let (cache, stored) = try await store(F.record(("txt", F.found("b2")), ("fetch", F.fetchFailed)), cached: F.positive(), at: 2000)
        var expected = F.positive(confirmedAt: 2000)
        expected.failedAt = 2000
        expected.failedID = "b2"
        XCTAssertEqual(cache, ["status": "stored", "entry": expected.json])
        XCTAssertEqual(stored, expected)
    }

    func testAnInvalidPolicyCountsAsAFailedFetch() async throws {
        let invalid: JSONValue = ["status": "error", "error": ["kind": "sts-policy-invalid", "message": "line 2"]]
        let (_, stored) = try await store(F.record(("txt", F.found("b2")), ("fetch", F.fetchOK), ("policy", invalid)), cached: nil, at: 2000)
        XCTAssertEqual(stored, CacheEntry(domain: "example.com", policyID: nil, policy: nil, fetchedAt: 2000, confirmedAt: 2000,
                                          expiresAt: 2300, failedAt: 2000, failedID: "b2"))
    }

    /// store then lookup through one backend: the back-off a failed fetch starts is what the next lookup
    /// tells sts-fetch, until it runs out.
    func testBackOffCarriedThroughToTheNextLookup() async throws {
        let backend = MemoryCache(capacity: 10)
        let clock = TestClock(2000)
        let store = CacheStoreStage(backend: backend, rules: F.rules, now: clock.source)
        let lookup = CacheLookupStage(backend: backend, rules: F.rules, now: clock.source)
        _ = await store.process(F.record(("txt", F.found("b2")), ("fetch", F.fetchFailed)))
        clock.set(2100)
        var next = await lookup.process(F.record(("txt", F.found("b2"))))
        XCTAssertEqual(next["cache"]?["backoff_id"], "b2")
        XCTAssertEqual(FetchSkip.reason(for: next), .backoff)
        // Skipped, so the record reaches store without a fetch: the negative entry that carries the
        // failure is confirmed (served for cache_grace), the back-off itself unchanged.
        let skipped = await store.process(next)
        XCTAssertEqual(skipped["cache"]?["status"], "stored")
        XCTAssertEqual(skipped["cache"]?["entry"]?["failed_at"], 2000)
        XCTAssertEqual(skipped["cache"]?["entry"]?["confirmed_at"], 2100)
        clock.set(2300)
        next = await lookup.process(F.record(("txt", F.found("b2"))))
        XCTAssertNil(FetchSkip.reason(for: next), "after 5 minutes the fetch is tried again")
    }

    func testASkippedFetchConfirmsTheCachedPolicy() async throws {
        let (cache, stored) = try await store(F.record(("txt", F.found("a1"))), cached: F.positive(), at: 5000)
        let expected = F.positive(confirmedAt: 5000)
        XCTAssertEqual(cache, ["status": "stored", "entry": expected.json])
        XCTAssertEqual(stored, expected)
        let (nothing, none) = try await store(F.record(("txt", F.found("a1"))), cached: nil, at: 5000)
        XCTAssertEqual(nothing, ["status": "unchanged"])
        XCTAssertNil(none)
    }

    func testRecordsThatCannotSayWhatWasLearntAreRefused() async throws {
        let cases: [(JSONObject, String)] = [
            (F.record(), "no \"txt\""),
            (F.record(("txt", ["status": "maybe"])), "txt.status"),
            (F.record(("txt", ["status": "found"])), "no string \"id\""),
            (F.record(("txt", F.found("a1")), ("fetch", F.fetchOK)), "run sts-parse"),
            (F.record(("txt", F.found("a1")), ("fetch", F.fetchOK), ("policy", ["status": "valid", "version": "STSv1", "mode": "enforce", "max_age": 86400, "mx": ["bad host"]])), "policy checks"),
        ]
        for (record, message) in cases {
            let (cache, stored) = try await store(record, cached: F.positive(), at: 2000)
            XCTAssertEqual(cache?["status"], "error", message)
            XCTAssertEqual(cache?["error"]?["kind"], "invalid-input", message)
            XCTAssertTrue(cache?["error"]?["message"]?.stringValue?.contains(message) == true, "\(cache as Any)")
            XCTAssertEqual(stored, F.positive(), "nothing stored")
        }
    }

    func testUnusableDomainAndBackendFailure() async {
        let stage = CacheStoreStage(backend: FailingCache(), rules: F.rules, now: { 1000 })
        let bad = await stage.process(["domain": "no_such..name", "txt": ["status": "none"]])
        XCTAssertEqual(bad["error"]?["kind"], "invalid-domain")
        let failed = await stage.process(F.record(("id", "x"), ("txt", ["status": "none"])))
        XCTAssertEqual(failed["cache"], ["status": "error", "error": FailingCache.error.json])
        XCTAssertEqual(failed.keys, ["domain", "id", "txt", "cache"])
    }

    /// Records for one domain in flight at once are read, decided and written one after the other.
    func testOneDomainIsUpdatedOneRecordAtATime() async throws {
        let backend = OverlapProbe()
        // Every record then stores a new entry, so every read is followed by its write.
        let stage = CacheStoreStage(backend: backend, rules: F.rules, now: TestClock(1000).ticking)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask { _ = await stage.process(F.record(("txt", ["status": "none", "ttl": 300]))) }
                group.addTask { _ = await stage.process(["domain": "other.example", "txt": ["status": "none", "ttl": 300]]) }
            }
        }
        let peak = backend.peak.withLock { $0 }
        XCTAssertEqual(peak["example.com"], 1)
        XCTAssertEqual(peak["other.example"], 1)
    }
}

/// A memory backend that records how many read-then-write windows per domain were open at once.
final class OverlapProbe: CacheBackend {
    let inner = MemoryCache(capacity: 100)
    let open = Mutex<[String: Int]>([:])
    let peak = Mutex<[String: Int]>([:])

    func get(_ domain: String) async throws(STSError) -> CacheEntry? {
        let now = open.withLock { $0[domain, default: 0] += 1; return $0[domain]! }
        peak.withLock { $0[domain] = max($0[domain] ?? 0, now) }
        // Give another record the chance to run in between, as a slow store would.
        try? await Task.sleep(for: .milliseconds(1))
        return try await inner.get(domain)
    }

    func put(_ entry: CacheEntry) async throws(STSError) {
        try await inner.put(entry)
        open.withLock { $0[entry.domain, default: 0] -= 1 }
    }

    func delete(_ domain: String) async throws(STSError) { try await inner.delete(domain) }
    func list(after cursor: String?, limit: Int) async throws(STSError) -> [CacheEntry] { try await inner.list(after: cursor, limit: limit) }
    func purgeAll() async throws(STSError) { try await inner.purgeAll() }
    func count() async throws(STSError) -> Int { try await inner.count() }
}
