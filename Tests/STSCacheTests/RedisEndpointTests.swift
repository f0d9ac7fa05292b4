import STSCache
import STSCore
import XCTest

final class RedisEndpointTests: XCTestCase {
    func testTCPURLs() throws {
        XCTAssertEqual(try RedisEndpoint.parse(url: "redis://127.0.0.1"), RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6379)))
        let full = try RedisEndpoint.parse(url: "redis://user:p%40ss@cache.example:6380/3?socket_timeout=2.5&socket_connect_timeout=1")
        XCTAssertEqual(full.address, .tcp(host: "cache.example", port: 6380))
        XCTAssertEqual(full.username, "user")
        XCTAssertEqual(full.password, "p@ss")
        XCTAssertEqual(full.database, 3)
        XCTAssertEqual(full.timeout, 2.5)
        XCTAssertEqual(full.connectTimeout, 1)
        XCTAssertEqual(try RedisEndpoint.parse(url: "redis://:secret@[::1]:7000/0").address, .tcp(host: "::1", port: 7000))
        XCTAssertEqual(try RedisEndpoint.parse(url: "redis://:secret@localhost").password, "secret")
        XCTAssertNil(try RedisEndpoint.parse(url: "redis://:secret@localhost").username)
    }

    func testUnixURLs() throws {
        let endpoint = try RedisEndpoint.parse(url: "unix:///run/redis/redis.sock?db=5")
        XCTAssertEqual(endpoint.address, .unix(path: "/run/redis/redis.sock"))
        XCTAssertEqual(endpoint.database, 5)
    }

    func testTheOldDaemonsPoolOptionsAreIgnored() throws {
        var endpoint = try RedisEndpoint.parse(url: "redis://127.0.0.1/0?max_connections=25&encoding=utf-8")
        try endpoint.apply(key: "max_connections", value: "25")
        try endpoint.apply(key: "password", value: "x")
        XCTAssertEqual(endpoint.password, "x")
    }

    func testBadURLsSayWhatIsWrongWithoutThePassword() {
        for (url, expected) in [("127.0.0.1:6379", "expected redis://"), ("rediss://h", "TLS"), ("redis://h:99999", "port"),
                                ("redis://h/x", "database"), ("unix://relative.sock", "absolute"), ("http://h", "unknown scheme"),
                                ("redis://:hunter2@h?socket_timeout=0", "socket_timeout")] {
            XCTAssertThrowsError(try RedisEndpoint.parse(url: url), url) { error in
                let message = (error as? STSError)?.message ?? ""
                XCTAssertTrue(message.contains(expected), "\(url): \(message)")
                XCTAssertFalse(message.contains("hunter2"))
            }
        }
    }

    func testTheDescriptionHasNoPassword() throws {
        let endpoint = try RedisEndpoint.parse(url: "redis://:hunter2@h:1/2")
        XCTAssertEqual(endpoint.description, "redis://h:1/2")
    }
}
