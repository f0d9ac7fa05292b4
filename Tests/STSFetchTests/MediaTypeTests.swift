import STSFetch
import XCTest

final class MediaTypeTests: XCTestCase {
    func testTextPlainWithAnyParametersIsAccepted() {
        for accepted in ["text/plain", "TEXT/PLAIN; charset=utf-8", "text/plain;charset=\"x\"", " text/plain ", "Text/Plain;format=flowed",
                         "text/plain\t; charset=us-ascii", "text/plain;"]
        {
            XCTAssertTrue(MediaType.isTextPlain(accepted), accepted)
        }
    }

    func testOtherTypesAndAMissingOneAreRefused() {
        for refused in [nil, "", "text/plainx", "text/html", "text/plain-x; a=b", "text", "application/octet-stream", "text /plain",
                        "text/plain x", "plain", "text/*", "; text/plain"]
        {
            XCTAssertFalse(MediaType.isTextPlain(refused), refused ?? "nil")
        }
    }
}
