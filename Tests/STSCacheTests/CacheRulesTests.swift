import STSCache
import STSCore
import XCTest

final class CacheRulesTests: XCTestCase {
    let rules = CacheRules(grace: 60, refetchInterval: 86400, failureBackoff: 300, negativeTTL: 60...3600)
    let enforce = Policy(mode: .enforce, maxAge: 86400, mx: [MXPattern("mail.example.com")!])
    let none = Policy(mode: .none, maxAge: 86400, mx: [])

    func cached(id: String = "a1", fetchedAt: Int64 = 1000, confirmedAt: Int64 = 1000, expiresAt: Int64 = 87400) -> CacheEntry {
        CacheEntry(domain: "example.com", policyID: id, policy: enforce, fetchedAt: fetchedAt, confirmedAt: confirmedAt, expiresAt: expiresAt)
    }

    func testFreshness() {
        XCTAssertEqual(rules.freshness(of: nil, at: 0), .missing)
        XCTAssertEqual(rules.freshness(of: cached(), at: 1059), .fresh)
        XCTAssertEqual(rules.freshness(of: cached(), at: 1060), .recheck, "cache_grace over: check the TXT id")
        XCTAssertEqual(rules.freshness(of: cached(), at: 87399), .recheck)
        XCTAssertEqual(rules.freshness(of: cached(), at: 87400), .missing, "expired at expiresAt")
    }

    func testFetchOnlyWhenTheIdChangedOrTheBodyIsOld() {
        XCTAssertTrue(rules.needsFetch(nil, discoveredID: "a1", at: 2000))
        XCTAssertFalse(rules.needsFetch(cached(), discoveredID: "a1", at: 2000))
        XCTAssertTrue(rules.needsFetch(cached(), discoveredID: "b2", at: 2000))
        XCTAssertTrue(rules.needsFetch(cached(), discoveredID: "a1", at: 1000 + 86400 - 1) == false)
        XCTAssertTrue(rules.needsFetch(cached(expiresAt: 1_000_000), discoveredID: "a1", at: 1000 + 86400), "re-fetched daily even with the same id")
    }

    func testAtMostOneFailedFetchPerDomainAndIdEveryFiveMinutes() {
        var entry = cached()
        entry.failedAt = 2000
        entry.failedID = "b2"
        XCTAssertFalse(rules.needsFetch(entry, discoveredID: "b2", at: 2299))
        XCTAssertTrue(rules.needsFetch(entry, discoveredID: "b2", at: 2300))
        XCTAssertTrue(rules.needsFetch(entry, discoveredID: "c3", at: 2001), "a new id is fetched at once")
    }

    func testAFetchedPolicyReplacesTheCachedOneAndNoneReplacesAtOnce() {
        let next = rules.next(cached(), domain: "example.com", discovery: .policyID("b2", .fetched(none)), at: 5000)
        XCTAssertEqual(next?.policyID, "b2")
        XCTAssertEqual(next?.policy?.mode, PolicyMode.none)
        XCTAssertEqual(next?.expiresAt, 5000 + 86400)
    }

    func testAFailedFetchKeepsTheCachedPolicy() {
        let next = rules.next(cached(), domain: "example.com", discovery: .policyID("b2", .failed), at: 5000)
        XCTAssertEqual(next?.policyID, "a1")
        XCTAssertEqual(next?.policy, enforce)
        XCTAssertEqual(next?.failedAt, 5000)
        XCTAssertEqual(next?.failedID, "b2")
    }

    func testAFailedFetchWithNothingCachedRemembersTheFailure() {
        let next = rules.next(nil, domain: "example.com", discovery: .policyID("b2", .failed), at: 5000)
        XCTAssertEqual(next?.isNegative, true)
        XCTAssertEqual(next?.failedID, "b2")
        XCTAssertFalse(rules.needsFetch(next, discoveredID: "b2", at: 5100))
    }

    func testAnUnchangedIdConfirms() {
        let next = rules.next(cached(), domain: "example.com", discovery: .policyID("a1", .notFetched), at: 5000)
        XCTAssertEqual(next?.confirmedAt, 5000)
        XCTAssertEqual(next?.fetchedAt, 1000)
    }

    func testAnAbsentTXTDoesNotEvictACachedPolicy() {
        // Kept, and confirmed: the next `grace` seconds are served without asking DNS again.
        var kept = cached()
        kept.confirmedAt = 5000
        XCTAssertEqual(rules.next(cached(), domain: "example.com", discovery: .noPolicy(ttl: 300), at: 5000), kept)
    }

    func testAFailedFetchOrABackingOffIdConfirmsWhatIsKept() {
        // The new id b2 fails to fetch: the cached a1 is kept and confirmed, with the failure noted.
        let failed = rules.next(cached(), domain: "example.com", discovery: .policyID("b2", .failed), at: 5000)
        XCTAssertEqual(failed?.policyID, "a1")
        XCTAssertEqual(failed?.failedID, "b2")
        XCTAssertEqual(failed?.confirmedAt, 5000)
        // Within the back-off b2 is not fetched: a1 is confirmed again, the failure stays.
        let skipped = rules.next(failed, domain: "example.com", discovery: .policyID("b2", .notFetched), at: 5100)
        XCTAssertEqual(skipped?.policyID, "a1")
        XCTAssertEqual(skipped?.failedAt, 5000)
        XCTAssertEqual(skipped?.confirmedAt, 5100)
        XCTAssertEqual(rules.freshness(of: skipped, at: 5100 + rules.grace - 1), .fresh)
        // Nothing cached but the failure: the negative entry is confirmed the same way.
        let negative = rules.next(nil, domain: "example.com", discovery: .policyID("b2", .failed), at: 5000)
        XCTAssertEqual(rules.next(negative, domain: "example.com", discovery: .policyID("b2", .notFetched), at: 5100)?.confirmedAt, 5100)
        // An id that is neither the cached one nor backing off was not skipped by sts-fetch: nothing to confirm.
        XCTAssertNil(rules.next(cached(), domain: "example.com", discovery: .policyID("c3", .notFetched), at: 5100))
    }

    func testNoPolicyIsCachedBriefly() {
        XCTAssertEqual(rules.next(nil, domain: "example.com", discovery: .noPolicy(ttl: 300), at: 5000)?.expiresAt, 5300)
        XCTAssertEqual(rules.next(nil, domain: "example.com", discovery: .noPolicy(ttl: 5), at: 5000)?.expiresAt, 5060)
        XCTAssertEqual(rules.next(nil, domain: "example.com", discovery: .noPolicy(ttl: 86400), at: 5000)?.expiresAt, 8600)
        XCTAssertEqual(rules.next(cached(expiresAt: 4000), domain: "example.com", discovery: .noPolicy(ttl: nil), at: 5000)?.isNegative, true, "an expired policy is replaced")
    }

    func testADNSFailureChangesNothing() {
        XCTAssertNil(rules.next(cached(), domain: "example.com", discovery: .dnsFailure, at: 5000))
        XCTAssertNil(rules.next(nil, domain: "example.com", discovery: .dnsFailure, at: 5000))
    }
}
