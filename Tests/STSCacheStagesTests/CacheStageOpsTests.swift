import STSCache
import STSCacheStages
import STSCore
import STSStage
import XCTest

final class CacheOpsStageTests: XCTestCase {
    typealias F = CacheFixtures

    let backend = MemoryCache(capacity: 100)
    var stage: CacheOpsStage { CacheOpsStage(backend: backend, rules: F.rules, now: { 1030 }) }

    func op(_ record: JSONObject) async -> JSONValue? {
        await stage.process(record)["cache"]
    }

    func testGet() async throws {
        let miss = await op(["op": "get", "domain": "example.com"])
        XCTAssertEqual(miss, ["status": "miss"])
        try await backend.put(F.positive())
        let hit = await op(["op": "get", "domain": "EXAMPLE.com."])
        XCTAssertEqual(hit, ["status": "hit", "fresh": true, "negative": false, "expired": false, "policy_id": "a1", "expires_at": 87400, "entry": F.positive().json])
    }

    func testPutThenGetReturnsTheEntry() async throws {
        var entry = F.positive(id: "b2")
        entry.failedAt = 1010
        entry.failedID = "c3"
        let stored = await op(["op": "put", "entry": entry.json])
        XCTAssertEqual(stored, ["status": "stored", "entry": entry.json])
        let cached = try await backend.get("example.com")
        XCTAssertEqual(cached, entry)
        let negative = await op(["op": "put", "entry": F.negative().json])
        XCTAssertEqual(negative?["status"], "stored")
    }

    func testPutRefusesEntriesThatFailTheChecks() async throws {
        func entry(_ change: (inout JSONObject) -> Void) -> JSONValue {
            var object = F.positive().json.objectValue!
            change(&object)
            return .object(object)
        }
        let refused: [(String, JSONValue?)] = [
            ("no entry", nil),
            ("domain not normalised", entry { $0["domain"] = "Example.COM" }),
            ("domain an address", entry { $0["domain"] = "192.0.2.1" }),
            ("no expiry", entry { $0["expires_at"] = nil }),
            ("time as text", entry { $0["fetched_at"] = "1000" }),
            ("policy without id", entry { $0["policy_id"] = nil }),
            ("bad id", entry { $0["policy_id"] = "not an id!" }),
            ("unsafe mx", entry { $0["policy"] = ["status": "valid", "version": "STSv1", "mode": "enforce", "max_age": 86400, "mx": ["mail.example.com servername=x"]] }),
            ("max_age over the limit", entry { $0["policy"] = ["status": "valid", "version": "STSv1", "mode": "enforce", "max_age": 31557601, "mx": ["mail.example.com"]] }),
            ("not an object", "example.com"),
        ]
        for (why, json) in refused {
            var record: JSONObject = ["op": "put"]
            record["entry"] = json
            let result = await op(record)
            XCTAssertEqual(result?["status"], "error", why)
            XCTAssertEqual(result?["error"]?["kind"], "invalid-input", why)
        }
        let count = try await backend.count()
        XCTAssertEqual(count, 0, "nothing refused was stored")
    }

    func testDelete() async throws {
        try await backend.put(F.positive())
        let deleted = await op(["op": "delete", "domain": "example.com"])
        XCTAssertEqual(deleted, ["status": "deleted"])
        let again = await op(["op": "delete", "domain": "example.com"])
        XCTAssertEqual(again, ["status": "miss"])
        let gone = try await backend.get("example.com")
        XCTAssertNil(gone)
    }

    func testListPagesThroughEveryEntryInDomainOrder() async throws {
        let domains = ["e.example", "a.example", "c.example", "b.example", "d.example"]
        for domain in domains { try await backend.put(F.positive(domain: domain)) }
        var seen: [String] = []
        var cursor: JSONValue = .null
        var pages = 0
        repeat {
            let page = await op(["op": "list", "after": cursor, "limit": 2])
            XCTAssertEqual(page?["status"], "ok")
            seen += page?["entries"]?.arrayValue?.compactMap { $0["domain"]?.stringValue } ?? []
            cursor = page?["next"] ?? .null
            pages += 1
        } while cursor != .null && pages < 10
        XCTAssertEqual(seen, domains.sorted())
        XCTAssertEqual(pages, 3)
        let exact = await op(["op": "list", "limit": 5])
        XCTAssertEqual(exact?["next"], .null, "no empty page after a full last one")
        let defaulted = await op(["op": "list"])
        XCTAssertEqual(defaulted?["entries"]?.arrayValue?.count, 5)
        let rest = await op(["op": "list", "after": "c.example"])
        XCTAssertEqual(rest?["entries"]?.arrayValue?.first?["domain"], "d.example")
    }

    func testBadOperationsAreRecordErrors() async {
        let cases: [(JSONObject, ErrorKind)] = [
            (["domain": "example.com"], .invalidInput),
            (["op": "drop"], .invalidInput),
            (["op": 1], .invalidInput),
            (["op": "get"], .invalidInput),
            (["op": "get", "domain": "not a domain"], .invalidDomain),
            (["op": "delete", "domain": "[192.0.2.1]"], .invalidDomain),
            (["op": "list", "limit": 0], .invalidInput),
            (["op": "list", "limit": 1001], .invalidInput),
            (["op": "list", "limit": "10"], .invalidInput),
            (["op": "list", "after": 3], .invalidInput),
        ]
        for (record, kind) in cases {
            let result = await op(record)
            XCTAssertEqual(result?["status"], "error", "\(record)")
            XCTAssertEqual(result?["error"]?["kind"]?.stringValue, kind.rawValue, "\(record)")
        }
        let limit = await op(["op": "list", "limit": 1000])
        XCTAssertEqual(limit?["status"], "ok", "1000 is allowed")
    }

    func testIdAndUnknownKeysPassThrough() async {
        let record: JSONObject = ["id": ["n": .number("1.50")], "op": "get", "domain": "example.com", "note": [nil, true]]
        let output = await stage.process(record)
        XCTAssertEqual(output.keys, ["id", "op", "domain", "note", "cache"])
        for key in record.keys { XCTAssertEqual(output[key], record[key]) }
    }

    func testBackendFailureIsARecordError() async {
        let stage = CacheOpsStage(backend: FailingCache(), rules: F.rules, now: { 1000 })
        for record: JSONObject in [["op": "get", "domain": "example.com"], ["op": "put", "entry": F.positive().json], ["op": "list"]] {
            let output = await stage.process(record)
            XCTAssertEqual(output["cache"], ["status": "error", "error": FailingCache.error.json])
        }
    }
}

final class CacheScanTests: XCTestCase {
    typealias F = CacheFixtures

    func testForEachVisitsEveryEntryInOrderPageByPage() async throws {
        let backend = MemoryCache(capacity: 100)
        let domains = (0..<23).map { "d\($0).example" }
        for domain in domains { try await backend.put(F.positive(domain: domain)) }
        var seen: [String] = []
        try await CacheScan.forEach(backend, pageSize: 5) { seen.append($0.domain) }
        XCTAssertEqual(seen, domains.sorted())
    }

    func testExportLines() {
        let entry = F.positive()
        XCTAssertEqual(CacheScan.exportLine(entry, options: ZoneOptions(), includeExpired: false, at: 2000),
                       .line("example.com\tsecure match=mail.example.com:.example.net servername=hostname"))
        XCTAssertEqual(CacheScan.exportLine(entry, options: ZoneOptions(requireSNI: false), includeExpired: false, at: 2000),
                       .line("example.com\tsecure match=mail.example.com:.example.net"))
        guard case .line(let tlsrpt) = CacheScan.exportLine(entry, options: ZoneOptions(tlsrpt: true), includeExpired: false, at: 2000) else {
            return XCTFail("a policy line")
        }
        XCTAssertTrue(tlsrpt.hasPrefix("example.com\tsecure match=mail.example.com:.example.net servername=hostname policy_type=sts policy_domain=example.com mx_host_pattern=mail.example.com mx_host_pattern=*.example.net { policy_string = version: STSv1 }"), tlsrpt)

        XCTAssertEqual(CacheScan.exportLine(entry, options: ZoneOptions(), includeExpired: false, at: 87400), .skipped, "expired")
        XCTAssertEqual(CacheScan.exportLine(entry, options: ZoneOptions(), includeExpired: true, at: 87400),
                       .line("example.com\tsecure match=mail.example.com:.example.net servername=hostname"))
        XCTAssertEqual(CacheScan.exportLine(F.negative(), options: ZoneOptions(), includeExpired: true, at: 1000), .skipped)

        var testing = entry
        testing.policy?.mode = .testing
        XCTAssertEqual(CacheScan.exportLine(testing, options: ZoneOptions(), includeExpired: false, at: 2000), .skipped)
        XCTAssertEqual(CacheScan.exportLine(testing, options: ZoneOptions(strictTesting: true), includeExpired: false, at: 2000),
                       .line("example.com\tsecure match=mail.example.com:.example.net servername=hostname"))
        var none = entry
        none.policy = F.none
        XCTAssertEqual(CacheScan.exportLine(none, options: ZoneOptions(strictTesting: true), includeExpired: false, at: 2000), .skipped)
    }

    func testPurgeCountsWhatWasThere() async throws {
        let backend = MemoryCache(capacity: 100)
        for domain in ["a.example", "b.example", "c.example"] { try await backend.put(F.positive(domain: domain)) }
        let removed = try await CacheScan.purge(backend, domains: ["a.example", "a.example", "x.example", "c.example"])
        XCTAssertEqual(removed, 2)
        let left = try await backend.list(after: nil, limit: 10).map(\.domain)
        XCTAssertEqual(left, ["b.example"])
        let all = try await CacheScan.purgeAll(backend)
        XCTAssertEqual(all, 1)
        let count = try await backend.count()
        XCTAssertEqual(count, 0)
    }
}
