import STSCore
import XCTest

/// The grammar of one `_mta-sts` TXT record (RFC 8461 §3.1), through `STSRecordParser`.
final class STSRecordTests: XCTestCase {
    func record(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> STSRecord? {
        record(Array(text.utf8), file: file, line: line)
    }

    func record(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> STSRecord? {
        do {
            return try STSRecordParser.parse(bytes)
        } catch {
            XCTFail("expected a valid record, got \(error)", file: file, line: line)
            return nil
        }
    }

    /// The message of the error for an invalid record; fails the test when the record is accepted.
    func problem(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        problem(Array(text.utf8), file: file, line: line)
    }

    func problem(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let parsed = try STSRecordParser.parse(bytes)
            XCTFail("expected an invalid record, got \(parsed)", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, .invalidInput, file: file, line: line)
            return error.message
        }
    }

    func testTypicalRecord() {
        let parsed = record("v=STSv1; id=20160831085700Z;")
        XCTAssertEqual(parsed?.id, "20160831085700Z")
        XCTAssertEqual(parsed?.text, "v=STSv1; id=20160831085700Z;")
        XCTAssertEqual(parsed?.extensions, [])
    }

    func testDelimitersAndWhiteSpace() {
        XCTAssertEqual(record("v=STSv1;id=abc")?.id, "abc", "no white space, no trailing delimiter")
        XCTAssertEqual(record("v=STSv1; id=abc")?.id, "abc")
        XCTAssertEqual(record("v=STSv1 ; id=abc")?.id, "abc", "the grammar allows white space before a delimiter")
        XCTAssertEqual(record("v=STSv1;\tid=abc\t;\t")?.id, "abc")
        XCTAssertEqual(record("v=STSv1; id=abc;  ")?.id, "abc")
        XCTAssertEqual(record("v=STSv1; id=abc  ")?.id, "abc", "white space after the last field is tolerated")
    }

    func testEmptyFieldsAndStrayText() {
        XCTAssertTrue(problem("v=STSv1; id=abc;;").contains("empty field"))
        XCTAssertTrue(problem("v=STSv1;; id=abc").contains("empty field"))
        XCTAssertTrue(problem("v=STSv1; id=abc; ;").contains("empty field"))
        XCTAssertTrue(problem("v=STSv1; id=abc extra").contains("expected \";\""))
        XCTAssertTrue(problem("v=STSv1; id=abc=def").contains("1 to 32 letters or digits"))
        XCTAssertTrue(problem("v=STSv10; id=abc").contains("expected \";\""))
        XCTAssertTrue(problem("v=STSv1").contains("no id"), "at least one field is required")
        XCTAssertTrue(problem("v=STSv1;").contains("no id"))
        XCTAssertTrue(problem("v=STSv1; foo").contains("not name=value"))
        XCTAssertTrue(problem("id=abc; v=STSv1").contains("does not begin with v=STSv1"))
    }

    func testIDIsOneTo32LettersOrDigits() {
        XCTAssertEqual(record("v=STSv1; id=\(String(repeating: "a", count: 32));")?.id.count, 32)
        XCTAssertTrue(problem("v=STSv1; id=\(String(repeating: "a", count: 33));").contains("1 to 32 letters or digits"))
        XCTAssertEqual(record("v=STSv1; id=A;")?.id, "A")
        XCTAssertEqual(record("v=STSv1; id=0;")?.id, "0")
        XCTAssertEqual(problem("v=STSv1; id=abc-123;"), "id \"abc-123\" must be 1 to 32 letters or digits")
        for bad in ["", "abc_123", "abc.123", "abc+1", "ab/c", "é"] {
            XCTAssertFalse(problem("v=STSv1; id=\(bad);").isEmpty, bad)
        }
    }

    func testIDIsRequiredAndCaseSensitive() {
        XCTAssertTrue(problem("v=STSv1; foo=bar;").contains("no id"))
        XCTAssertTrue(problem("v=STSv1; ID=abc;").contains("no id"), "field names are case-sensitive: ID is an extension")
        XCTAssertEqual(record("v=STSv1; ID=abc; id=def")?.extensions, [STSRecordExtension(name: "ID", value: "abc")])
    }

    func testFirstIDWins() {
        XCTAssertEqual(record("v=STSv1; id=first; id=second;")?.id, "first")
        XCTAssertFalse(problem("v=STSv1; id=first; id=not-valid;").isEmpty, "a later id must still be well-formed")
    }

    func testExtensions() {
        let parsed = record("v=STSv1; id=ext1; foo=bar; x-y.z_w=1")
        XCTAssertEqual(parsed?.extensions, [STSRecordExtension(name: "foo", value: "bar"), STSRecordExtension(name: "x-y.z_w", value: "1")])
        XCTAssertEqual(record("v=STSv1; foo=1; id=2; foo=3")?.extensions.map(\.value), ["1", "3"], "kept in order, repeats too")
        let allowed = "!\"#$%&'()*+,-./09:<>?@AZ[\\]^_`az{|}~"
        XCTAssertEqual(record("v=STSv1; id=1; x=\(allowed)")?.extensions.first?.value, allowed)
    }

    func testExtensionNameRule() {
        XCTAssertNotNil(record("v=STSv1; \(String(repeating: "n", count: 32))=v; id=1"))
        XCTAssertTrue(problem("v=STSv1; \(String(repeating: "n", count: 33))=v; id=1").contains("field name"))
        XCTAssertNotNil(record("v=STSv1; 9n=v; id=1"))
        for bad in ["-foo", "_foo", ".foo", "fo!o", "=v"] {
            XCTAssertTrue(problem("v=STSv1; \(bad)=v; id=1").contains("field name"), bad)
        }
    }

    func testExtensionValueRule() {
        XCTAssertTrue(problem("v=STSv1; foo=; id=1").contains("must have a value"))
        XCTAssertTrue(problem("v=STSv1; foo=a=b; id=1").contains("must have a value"))
    }

    func testOnlyPrintableUSASCII() {
        XCTAssertTrue(problem("v=STSv1; id=abc; ext=é").contains("not printable US-ASCII"))
        XCTAssertTrue(problem("v=STSv1; id=abc\u{7F}").contains("0x7F"))
        XCTAssertTrue(problem("v=STSv1; id=abc\r\n").contains("0xD"))
        XCTAssertFalse(problem(Array("v=STSv1; id=abc".utf8) + [0]).isEmpty)
        XCTAssertFalse(problem(Array("v=STSv1; id=abc; x=".utf8) + [0x80]).isEmpty)
        XCTAssertFalse(problem(Array("v=STSv1; id=abc; x=".utf8) + [0xFF]).isEmpty)
    }

    func testLengthBound() {
        let prefix = "v=STSv1; id=1; x="
        let atLimit = prefix + String(repeating: "a", count: STSRecordParser.maxRecordBytes - prefix.utf8.count)
        XCTAssertEqual(atLimit.utf8.count, 8192)
        XCTAssertNotNil(record(atLimit))
        XCTAssertTrue(problem(atLimit + "a").contains("longer than 8192 bytes"))
    }

    func testMessagesDoNotCarryTheWholeRecord() {
        let message = problem("v=STSv1; id=1 " + String(repeating: "x", count: 5000))
        XCTAssertLessThan(message.count, 200, message)
    }
}
