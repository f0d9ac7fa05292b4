import Foundation
import STSCache
import STSCacheStages
import STSCore
import XCTest

/// What the stages report stored reads back from a store that checks what it reads (sqlite), and what
/// would not is refused up front with an error naming the field.
final class CacheStageReadBackTests: XCTestCase {
    typealias F = CacheFixtures

    var directory: URL!
    var backend: SQLiteCache!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sts-cache-stages-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        backend = try SQLiteCache(path: directory.appendingPathComponent("c.db").path, capacity: 100)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func put(_ entry: JSONValue) async -> JSONValue? {
        await CacheOpsStage(backend: backend, rules: F.rules, now: { 1030 }).process(["op": "put", "entry": entry])["cache"]
    }

    func testPutRefusesANegativeEntryThatCarriesAnID() async throws {
        for id: JSONValue in ["abc", "a-b; x=y"] {
            var json = F.negative().json.objectValue!
            json["policy_id"] = id
            let result = await put(.object(json))
            XCTAssertEqual(result?["status"], "error", "\(id)")
            XCTAssertEqual(result?["error"]?["kind"], "invalid-input", "\(id)")
            let message = result?["error"]?["message"]?.stringValue ?? ""
            XCTAssertTrue(message.contains("\"policy_id\""), message)
        }
        let count = try await backend.count()
        XCTAssertEqual(count, 0, "nothing refused was stored")
    }

    func testPutTakesTheNegativeEntriesTheDaemonWrites() async throws {
        var failed = F.negative()
        failed.failedAt = 1000
        failed.failedID = "b2"
        for entry in [F.negative(), failed] {
            let result = await put(entry.json)
            XCTAssertEqual(result, ["status": "stored", "entry": entry.json])
            let cached = try await backend.get("example.com")
            XCTAssertEqual(cached, entry, "reads back")
        }
        let hit = await CacheLookupStage(backend: backend, rules: F.rules, now: { 1030 }).process(F.record())["cache"]
        XCTAssertEqual(hit?["negative"], true)
        XCTAssertNil(hit?["policy_id"], "a negative hit has no policy_id")
    }

    func testStoreRefusesATXTIdThatCouldNotBeReadBack() async throws {
        let stage = CacheStoreStage(backend: backend, rules: F.rules, now: { 1000 })
        for fetch: (String, JSONValue)? in [("fetch", F.fetchOK), ("fetch", F.fetchFailed), nil] {
            var record = F.record(("txt", ["status": "found", "id": "a-b"]), ("policy", F.enforce.json))
            if let fetch { record[fetch.0] = fetch.1 }
            let result = await stage.process(record)["cache"]
            XCTAssertEqual(result?["status"], "error", "\(record)")
            XCTAssertEqual(result?["error"]?["kind"], "invalid-input")
            XCTAssertTrue(result?["error"]?["message"]?.stringValue?.contains("txt.id") == true, "\(result as Any)")
        }
        let count = try await backend.count()
        XCTAssertEqual(count, 0, "nothing stored")
    }

    func testWhatStoreReportsStoredLookupFinds() async throws {
        let store = CacheStoreStage(backend: backend, rules: F.rules, now: { 1000 })
        let lookup = CacheLookupStage(backend: backend, rules: F.rules, now: { 1010 })
        let records: [JSONObject] = [
            F.record(("txt", F.found("a1")), ("fetch", F.fetchOK), ("policy", F.enforce.json)),
            F.record(("txt", F.found("b2")), ("fetch", F.fetchFailed)),
            F.record(("domain", "none.example"), ("txt", ["status": "none", "ttl": 300])),
            F.record(("domain", "failed.example"), ("txt", F.found("c3")), ("fetch", F.fetchFailed)),
        ]
        for record in records {
            let stored = await store.process(record)["cache"]
            XCTAssertEqual(stored?["status"], "stored", "\(record)")
            let found = await lookup.process(["domain": record["domain"]!])["cache"]
            XCTAssertEqual(found?["status"], "hit", "\(record)")
            XCTAssertEqual(found?["entry"], stored?["entry"], "\(record)")
        }
    }
}
