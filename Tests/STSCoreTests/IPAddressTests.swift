import STSCore
import XCTest

final class IPAddressTests: XCTestCase {
    func testRecordDataBecomesText() {
        XCTAssertEqual(IPAddress.text(bytes: [192, 0, 2, 1]), "192.0.2.1")
        XCTAssertEqual(IPAddress.text(bytes: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]), "2001:db8::1")
        XCTAssertNil(IPAddress.text(bytes: [1, 2, 3]), "A data is 4 bytes")
        XCTAssertNil(IPAddress.text(bytes: []))
        XCTAssertNil(IPAddress.text(bytes: [UInt8](repeating: 0, count: 17)))
    }

    func testOnlyAddressLiteralsAreAcceptedInCanonicalForm() {
        XCTAssertEqual(IPAddress.canonical("127.0.0.10"), "127.0.0.10")
        XCTAssertEqual(IPAddress.canonical("2001:DB8:0:0:0:0:0:1"), "2001:db8::1")
        XCTAssertEqual(IPAddress.canonical("::1"), "::1")
        for refused in ["", "mta-sts.example.com", "[::1]", "127.0.0.1:443", "127.0.0.1 ", " 127.0.0.1", "256.0.0.1", "1.2.3", "fe80::1%eth0",
                        "127.0.0.1,127.0.0.2", "::1\n", String(repeating: "1", count: 100)] {
            XCTAssertNil(IPAddress.canonical(refused), refused.debugDescription)
        }
        XCTAssertTrue(IPAddress.isIPv6("::1"))
        XCTAssertFalse(IPAddress.isIPv6("127.0.0.1"))
    }
}
