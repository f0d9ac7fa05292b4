// The `_mta-sts` TXT record: STSRecordParser and TXTDiscovery over a record's joined strings.
// Input: the record.
import STSCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let record = Array(UnsafeBufferPointer(start: data, count: size))
    let isCandidate = record.starts(with: Array("v=STSv1;".utf8))

    let parsed: STSRecord?
    do {
        parsed = try STSRecordParser.parse(record)
    } catch {
        check(error.kind == .invalidInput, "a refused record has kind \(error.kind)")
        parsed = nil
    }

    // Discovery over a one-record RRset agrees with the parser.
    switch TXTDiscovery.evaluate([record]) {
    case .found(let found):
        check(isCandidate && found == parsed, "discovery found \(found), the parser says \(String(describing: parsed))")
    case .none(.noSTSRecord, _):
        check(!isCandidate, "discovery ignored a record that begins with v=STSv1;")
    case .none(.invalidRecord, _):
        check(isCandidate && parsed == nil, "discovery refused a record the parser accepts")
    case .none(let reason, _):
        fail("discovery over one record said \(reason)")
    }
    if isCandidate {
        guard case .none(.multipleRecords, _) = TXTDiscovery.evaluate([record, record]) else {
            fail("two STS records were not refused")
        }
    }

    guard let parsed else { return 0 }
    check(parsed.text == String(decoding: record, as: UTF8.self), "the record's text is not the record")
    check((1...32).contains(parsed.id.utf8.count) && parsed.id.utf8.allSatisfy(isAlphaDigit), "id \(parsed.id.debugDescription)")
    for field in parsed.extensions {
        check(field.name != "id", "an id field was taken for an extension")
        check(!field.value.isEmpty && field.value.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != 0x3B && $0 != 0x3D },
            "extension value \(field.value.debugDescription)")
    }

    // The record written out again, in two layouts, reads back with the same id and extensions.
    let fields = ["id=\(parsed.id)"] + parsed.extensions.map { "\($0.name)=\($0.value)" }
    for text in ["v=STSv1; " + fields.joined(separator: "; ") + ";", "v=STSv1\t;" + fields.joined(separator: " ;\t") + " "] {
        do {
            let again = try STSRecordParser.parse(Array(text.utf8))
            check(again.id == parsed.id && again.extensions == parsed.extensions, "\(text.debugDescription) reads back as \(again)")
        } catch {
            fail("\(text.debugDescription), written from an accepted record, is refused: \(error)")
        }
    }
    return 0
}

func isAlphaDigit(_ byte: UInt8) -> Bool {
    (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    preconditionFailure("fuzz-txt-record: " + message)
}
