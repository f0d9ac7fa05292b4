import STSCore
import STSDaemon
import XCTest

final class DANECacheTests: XCTestCase {
    let usable = DANEStatus.usable(hosts: [DANEHost(host: "mx.example.com", tlsa: .usable)], ttl: 100)

    func testAStatusLivesForItsTTLWithinTheBounds() {
        let cache = DANECache(capacity: 10, minimumLife: 30, maximumLife: 3600)
        cache.store(usable, for: "example.com", at: 1000)
        XCTAssertEqual(cache.status(of: "example.com", at: 1099), usable)
        XCTAssertNil(cache.status(of: "example.com", at: 1100))
        cache.store(.absent(reason: .noTLSA, message: "", hosts: [], ttl: 0), for: "zero.example", at: 1000)
        XCTAssertNotNil(cache.status(of: "zero.example", at: 1029), "at least the minimum life")
        XCTAssertNil(cache.status(of: "zero.example", at: 1030))
        cache.store(.usable(hosts: [DANEHost(host: "mx.example.com", tlsa: .usable)], ttl: 86400), for: "long.example", at: 1000)
        XCTAssertNil(cache.status(of: "long.example", at: 4600), "at most the maximum life")
    }

    func testAnUndeterminableStatusIsNotKept() {
        let cache = DANECache(capacity: 10)
        cache.store(usable, for: "example.com", at: 1000)
        cache.store(.undeterminable(STSError(.dnsServfail, "SERVFAIL")), for: "example.com", at: 1001)
        XCTAssertNil(cache.status(of: "example.com", at: 1002), "the next lookup asks DNS again")
    }

    func testTheCapacityIsKept() {
        let cache = DANECache(capacity: 3)
        for index in 0..<10 { cache.store(usable, for: "d\(index).example", at: 1000) }
        XCTAssertEqual((0..<10).filter { cache.status(of: "d\($0).example", at: 1001) != nil }.count, 3)
        XCTAssertNotNil(cache.status(of: "d9.example", at: 1001), "the newest is kept")
    }
}
