import XCTest
import STSDNS

final class TXTRDataTests: XCTestCase {
    func testSplitsCharacterStrings() {
        let rdata: [UInt8] = [3] + Array("v=S".utf8) + [0] + [4] + Array("TSv1".utf8)
        XCTAssertEqual(TXTRData.characterStrings(rdata), [Array("v=S".utf8), [], Array("TSv1".utf8)])
    }

    func testEmptyDataHasNoStrings() {
        XCTAssertEqual(TXTRData.characterStrings([]), [])
    }

    func testFullLengthString() {
        let rdata: [UInt8] = [255] + [UInt8](repeating: 0x61, count: 255)
        XCTAssertEqual(TXTRData.characterStrings(rdata)?.first?.count, 255)
    }

    func testLengthPastTheEndIsMalformed() {
        XCTAssertNil(TXTRData.characterStrings([5, 0x61, 0x62]))
        XCTAssertNil(TXTRData.characterStrings([1, 0x61, 2, 0x62]))
    }

    func testRcodeNames() {
        XCTAssertEqual(DNSAnswer.rcodeName(2), "SERVFAIL")
        XCTAssertEqual(DNSAnswer.rcodeName(5), "REFUSED")
        XCTAssertEqual(DNSAnswer.rcodeName(23), "RCODE23")
    }
}
