import Foundation
import STSCache
import STSCore
import XCTest

final class CacheBackendTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sts-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func entry(_ domain: String, id: String? = "id1", mode: PolicyMode = .enforce) -> CacheEntry {
        let policy = id == nil ? nil : Policy(mode: mode, maxAge: 86400, mx: [MXPattern("mail.\(domain)")!, MXPattern("*.mx.\(domain)")!], lines: ["version: STSv1"])
        return CacheEntry(domain: domain, policyID: id, policy: policy, fetchedAt: 1000, confirmedAt: 1100, expiresAt: 87400, failedAt: id == nil ? nil : 1200, failedID: id == nil ? nil : "id2")
    }

    func backends(capacity: Int) throws -> [(String, CacheBackend)] {
        [("memory", MemoryCache(capacity: capacity)), ("sqlite", try SQLiteCache(path: directory.appendingPathComponent("c\(capacity).db").path, capacity: capacity))]
    }

    func testRoundTripOfPositiveAndNegativeEntries() async throws {
        for (name, backend) in try backends(capacity: 100) {
            try await backend.put(entry("a.example"))
            try await backend.put(entry("b.example", id: nil))
            let a = try await backend.get("a.example")
            XCTAssertEqual(a, entry("a.example"), name)
            let value1 = try await backend.get("b.example")
            XCTAssertEqual(value1, entry("b.example", id: nil), name)
            let value2 = try await backend.get("c.example")
            XCTAssertNil(value2, name)
            let value3 = try await backend.count()
            XCTAssertEqual(value3, 2, name)
        }
    }

    func testPutReplacesDeleteRemovesPurgeEmpties() async throws {
        for (name, backend) in try backends(capacity: 100) {
            try await backend.put(entry("a.example"))
            try await backend.put(entry("a.example", id: "id9", mode: .testing))
            let value4 = try await backend.get("a.example")?.policyID
            XCTAssertEqual(value4, "id9", name)
            let value5 = try await backend.get("a.example")?.policy?.mode
            XCTAssertEqual(value5, .testing, name)
            try await backend.delete("a.example")
            let value6 = try await backend.get("a.example")
            XCTAssertNil(value6, name)
            try await backend.put(entry("x.example"))
            try await backend.purgeAll()
            let value7 = try await backend.count()
            XCTAssertEqual(value7, 0, name)
        }
    }

    func testPagedListInDomainOrder() async throws {
        for (name, backend) in try backends(capacity: 100) {
            for domain in ["c.example", "a.example", "e.example", "b.example", "d.example"] { try await backend.put(entry(domain)) }
            let first = try await backend.list(after: nil, limit: 2).map(\.domain)
            XCTAssertEqual(first, ["a.example", "b.example"], name)
            let second = try await backend.list(after: "b.example", limit: 2).map(\.domain)
            XCTAssertEqual(second, ["c.example", "d.example"], name)
            let last = try await backend.list(after: "d.example", limit: 2).map(\.domain)
            XCTAssertEqual(last, ["e.example"], name)
        }
    }

    func testSizeIsBoundedAndTheLeastRecentlyUsedGo() async throws {
        for (name, backend) in try backends(capacity: 32) {
            try await backend.put(entry("keep.example"))
            for i in 0..<200 {
                try await backend.put(entry("d\(i).example"))
                if i % 10 == 0 { _ = try await backend.get("keep.example") }
            }
            let count = try await backend.count()
            XCTAssertLessThanOrEqual(count, 32 + 2, name)
            let value8 = try await backend.get("keep.example")
            XCTAssertNotNil(value8, "\(name): a recently used entry stays")
            let value9 = try await backend.get("d0.example")
            XCTAssertNil(value9, "\(name): the oldest goes")
            let value10 = try await backend.get("d199.example")
            XCTAssertNotNil(value10, name)
        }
    }

    func testSQLiteKeepsEntriesAcrossReopen() async throws {
        let path = directory.appendingPathComponent("persist.db").path
        do {
            let cache = try SQLiteCache(path: path, capacity: 10)
            try await cache.put(entry("a.example"))
        }
        let reopened = try SQLiteCache(path: path, capacity: 10)
        let value11 = try await reopened.get("a.example")
        XCTAssertEqual(value11, entry("a.example"))
    }

    func testSQLiteRefusesADamagedFileClearly() throws {
        let path = directory.appendingPathComponent("broken.db").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SQLiteCache(path: path, capacity: 10)) { error in
            XCTAssertEqual((error as? STSError)?.kind, .internalError)
            XCTAssertTrue((error as? STSError)?.message.contains(path) ?? false)
        }
    }

    func testSQLiteRowsThatFailTheChecksAreIgnored() async throws {
        let path = directory.appendingPathComponent("tampered.db").path
        let cache = try SQLiteCache(path: path, capacity: 10)
        try await cache.put(entry("a.example"))
        // Someone edits the file: an mx that is not a host name must never come back out.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update sts_policy set policy=replace(policy,'mail.a.example','bad host {x}')\"); c.commit()", path]
        try sqlite.run()
        sqlite.waitUntilExit()
        XCTAssertEqual(sqlite.terminationStatus, 0)
        let value12 = try await cache.get("a.example")
        XCTAssertNil(value12)
    }

    func testEntryJSONChecksEverything() {
        XCTAssertEqual(CacheEntry(json: entry("a.example").json), entry("a.example"))
        var json = entry("a.example").json.objectValue!
        json["domain"] = "A.example"
        XCTAssertNil(CacheEntry(json: .object(json)), "domains are stored normalised")
        json = entry("a.example").json.objectValue!
        json["policy_id"] = "bad-id"
        XCTAssertNil(CacheEntry(json: .object(json)))
        json = entry("a.example").json.objectValue!
        json["policy"] = ["version": "STSv1", "mode": "enforce", "max_age": 1, "mx": ["a b"]]
        XCTAssertNil(CacheEntry(json: .object(json)))
        // A policy line sts-parse could not have written: one that holds a line end would read back as two.
        for line in ["mx: a.example\nmode: none", "mode: none\r", "", "a\u{0}b"] {
            json["policy"] = ["version": "STSv1", "mode": "enforce", "max_age": 1, "mx": ["a.example"], "lines": ["version: STSv1", .string(line)]]
            XCTAssertNil(CacheEntry(json: .object(json)), "line \(line.debugDescription)")
        }
        json["policy"] = ["version": "STSv1", "mode": "enforce", "max_age": 1, "mx": ["a.example"], "lines": ["version: STSv1", "mx:\ta.example", "x: {y}"]]
        XCTAssertEqual(CacheEntry(json: .object(json))?.policy?.lines, ["version: STSv1", "mx:\ta.example", "x: {y}"])
    }
}

extension CacheBackendTests {
    func testPagingGoesPastRowsThatFailTheChecks() async throws {
        let path = directory.appendingPathComponent("paging.db").path
        let cache = try SQLiteCache(path: path, capacity: 100)
        for name in ["a", "b", "c", "d", "e"] { try await cache.put(entry("\(name).example")) }
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update sts_policy set policy='broken' where domain in ('a.example','b.example')\"); c.commit()", path]
        try sqlite.run()
        sqlite.waitUntilExit()
        let page = try await cache.list(after: nil, limit: 2)
        XCTAssertEqual(page.map(\.domain), ["c.example", "d.example"])
    }
}
