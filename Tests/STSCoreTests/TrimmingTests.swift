import STSCore
import XCTest

final class TrimmingTests: XCTestCase {
    func testTrimsOnlyTheGivenCharactersAtTheEnds() {
        XCTAssertEqual(" \ttext/plain \t".trimming(" \t"), "text/plain")
        XCTAssertEqual("[::1]".trimming("[]"), "::1")
        XCTAssertEqual("a b".trimming(" "), "a b")
        XCTAssertEqual("   ".trimming(" "), "")
        XCTAssertEqual("".trimming(" "), "")
        XCTAssertEqual("x;y"[...].trimming(";"), "x;y")
    }
}
