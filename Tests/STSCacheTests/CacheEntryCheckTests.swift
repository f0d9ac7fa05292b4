import Foundation
import STSCache
import STSCore
import XCTest

/// The entry checks that ops put, the backends' reads and the store stage's discovery share: what is
/// taken must read back, and what the rules write must pass.
final class CacheEntryCheckTests: XCTestCase {
    static let policy = Policy(mode: .enforce, maxAge: 86400, mx: [MXPattern("mail.example.com")!], lines: ["version: STSv1"])

    func negative(_ change: (inout JSONObject) -> Void = { _ in }) -> JSONValue {
        var object = CacheEntry(domain: "example.com", policyID: nil, policy: nil, fetchedAt: 1000, confirmedAt: 1000, expiresAt: 1300).json.objectValue!
        change(&object)
        return .object(object)
    }

    /// The field the refusal names, or nil when the entry is taken.
    func refusal(_ json: JSONValue, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try CacheEntry(checking: json)
            XCTAssertNotNil(CacheEntry(json: json), "both readings agree", file: file, line: line)
            return nil
        } catch {
            XCTAssertEqual(error.kind, .invalidInput, file: file, line: line)
            XCTAssertNil(CacheEntry(json: json), "both readings agree", file: file, line: line)
            return error.message
        }
    }

    func testANegativeEntryHasNoPolicyID() {
        XCTAssertNil(CacheEntry(json: negative { $0["policy_id"] = "abc" }), "negative with an id")
        XCTAssertNil(CacheEntry(json: negative { $0["policy_id"] = "a-b; x=y" }), "negative with a bad id")
        XCTAssertNil(CacheEntry(json: negative { $0["policy_id"] = 5 }), "negative with a number for an id")
        XCTAssertNotNil(CacheEntry(json: negative()), "null id")
        XCTAssertNotNil(CacheEntry(json: negative { $0["policy_id"] = nil }), "absent id")
    }

    func testRefusalsNameTheField() throws {
        let cases: [(String, JSONValue)] = [
            ("\"policy_id\"", negative { $0["policy_id"] = "abc" }),
            ("\"policy_id\"", negative { $0["policy_id"] = "a-b; x=y" }),
            ("\"policy_id\"", negative { $0["policy"] = Self.policy.json }),
            ("\"policy\"", negative { $0["policy_id"] = "a1"; $0["policy"] = ["version": "STSv1"] }),
            ("\"domain\"", negative { $0["domain"] = "Example.com" }),
            ("\"expires_at\"", negative { $0["expires_at"] = "1300" }),
            ("\"failed_at\"", negative { $0["failed_at"] = "1100"; $0["failed_id"] = "b1" }),
            ("\"failed_id\"", negative { $0["failed_at"] = 1100; $0["failed_id"] = "b-1" }),
            ("\"failed_id\"", negative { $0["failed_at"] = 1100 }),
            ("\"failed_at\"", negative { $0["failed_id"] = "b1" }),
        ]
        for (field, json) in cases {
            let message = try XCTUnwrap(refusal(json), "\(json) is refused")
            XCTAssertTrue(message.hasPrefix(field), "\(message) names \(field)")
        }
    }

    /// Every kind of entry the rules (and so the daemon) write passes the checks, so no stored entry
    /// starts reading back as absent.
    func testEveryEntryTheRulesWriteReadsBack() throws {
        let rules = CacheRules()
        let domain = "example.com"
        let positive = rules.next(nil, domain: domain, discovery: .policyID("a1", .fetched(Self.policy)), at: 1000)
        let written: [CacheEntry?] = [
            positive,
            rules.next(nil, domain: domain, discovery: .noPolicy(ttl: 300), at: 1000),
            rules.next(nil, domain: domain, discovery: .policyID("b2", .failed), at: 1000),
            rules.next(positive, domain: domain, discovery: .policyID("b2", .failed), at: 1100),
            rules.next(positive, domain: domain, discovery: .noPolicy(ttl: nil), at: 1100),
            rules.next(rules.next(nil, domain: domain, discovery: .policyID("b2", .failed), at: 1000), domain: domain,
                       discovery: .policyID("b2", .notFetched), at: 1100),
        ]
        for case let entry? in written {
            XCTAssertNil(refusal(entry.json), "\(entry)")
            XCTAssertEqual(try CacheEntry(checking: entry.json), entry)
        }
        XCTAssertEqual(written.compactMap { $0 }.count, written.count)
    }

    func testDiscoveryRefusesATXTIdThatNoEntryCouldHold() {
        let valid = Self.policy.json
        for id in ["a-b", "", String(repeating: "a", count: 33), "a b", "é1"] {
            let record: JSONObject = ["domain": "example.com", "txt": ["status": "found", "id": .string(id)],
                                      "fetch": ["status": "ok", "body": "..."], "policy": valid]
            guard case .failure(let error) = CacheRules.Discovery.read(from: record) else {
                XCTFail("txt.id \(id.debugDescription) is taken")
                continue
            }
            XCTAssertEqual(error.kind, .invalidInput)
            XCTAssertTrue(error.message.contains("txt.id"), error.message)
        }
        let record: JSONObject = ["domain": "example.com", "txt": ["status": "found", "id": .string(String(repeating: "Z9", count: 16))]]
        XCTAssertEqual(try? CacheRules.Discovery.read(from: record).get(), .policyID(String(repeating: "Z9", count: 16), .notFetched))
    }
}
