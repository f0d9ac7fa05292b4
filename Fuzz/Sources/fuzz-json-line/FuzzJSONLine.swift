// A stage's input: LineReader over a file descriptor, InputDecoder over each line, JSONParser and
// JSONWriter over each record, DomainField over its `domain`.
//
// Input: byte 0 picks the line bound (1...256), byte 1 the reader's buffer size (1...64); the rest is
// what arrives on standard input.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STSCore
import STSStage

/// One unlinked temporary file, rewritten for every input: the reader reads a real descriptor.
let scratch: Int32 = {
    var template = Array("/tmp/fuzz-json-line.XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    precondition(fd >= 0, "fuzz-json-line: cannot create a temporary file")
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return fd
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let maxLineBytes = Int(data[0]) + 1
    let bufferSize = Int(data[1] % 64) + 1
    let input = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    check(ftruncate(scratch, 0) == 0 && lseek(scratch, 0, SEEK_SET) == 0, "cannot reset the temporary file")
    var written = 0
    while written < input.count {
        let count = input[written...].withUnsafeBytes { write(scratch, $0.baseAddress, $0.count) }
        check(count > 0, "cannot write the temporary file")
        written += count
    }
    check(lseek(scratch, 0, SEEK_SET) == 0, "cannot rewind the temporary file")

    var reader = LineReader(fd: scratch, maxLineBytes: maxLineBytes, bufferSize: bufferSize)
    var lines: [LineReader.Line] = []
    while let line = reader.next() {
        lines.append(line)
        check(lines.count <= input.count + 1, "the reader returns more lines than the input has")
    }
    check(reader.next() == nil, "the reader returned a line after the end")
    let expected = expectedLines(input, maxLineBytes: maxLineBytes)
    check(lines == expected, "the reader (bound \(maxLineBytes), buffer \(bufferSize)) read \(lines), expected \(expected)")

    for (index, line) in lines.enumerated() {
        checkDecoded(line, lineNumber: index + 1, maxLineBytes: maxLineBytes)
        if case .bytes(let bytes) = line { checkJSON(bytes) }
    }
    return 0
}

/// The lines as the reader documents them: split at LF, one CR at the end dropped, no empty line after
/// a final LF, a line over the bound (not counting that CR) reported with its length before the LF and
/// its first bytes.
func expectedLines(_ input: [UInt8], maxLineBytes: Int) -> [LineReader.Line] {
    var parts = input.split(separator: 0x0A, omittingEmptySubsequences: false)
    if parts.last?.isEmpty == true { parts.removeLast() }
    return parts.map { part in
        let content = part.last == 0x0D ? part.dropLast() : part
        if content.count > maxLineBytes { return .tooLong(part.count, start: Array(part.prefix(LineReader.keptBytes))) }
        return .bytes(Array(content))
    }
}

func checkDecoded(_ line: LineReader.Line, lineNumber: Int, maxLineBytes: Int) {
    let decoded = InputDecoder.decode(line, lineNumber: lineNumber, maxLineBytes: maxLineBytes)
    let blank: Bool
    if case .bytes(let bytes) = line {
        blank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
    } else {
        blank = false
    }
    switch decoded {
    case nil:
        check(blank, "a line that is not blank was skipped")
    case .success(let record)?:
        check(!blank, "a blank line became a record")
        roundTrip(.object(record), "a record")
        if case .bytes(let bytes) = line, let first = bytes.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }),
            first != UInt8(ascii: "{")
        {
            // A bare domain: the line itself, nothing else.
            guard let domain = record["domain"]?.stringValue, record.count == 1 else { fail("a bare line became \(record)") }
            check(!domain.utf8.contains { $0 <= 0x20 || $0 == 0x7F }, "domain \(domain.debugDescription) has white space or a control character")
        }
        if case .success(let name) = DomainField.normalized(in: record) {
            check(DomainName.isValidHostname(name), "the domain field normalised to \(name.debugDescription)")
        }
    case .failure(let error)?:
        check(!blank, "a blank line became an error")
        check(error.lineNumber == lineNumber, "an error for line \(error.lineNumber) on line \(lineNumber)")
        check((error.excerpt?.utf8.count ?? 0) <= 3 * 200, "an excerpt of \(error.excerpt?.utf8.count ?? 0) bytes")
        let record = error.record
        check(record["error"]?["kind"]?.stringValue == ErrorKind.invalidInput.rawValue, "an input error of another kind")
        roundTrip(.object(record), "an error record")
    }
}

/// Whatever the parser accepts is UTF-8; the writer writes it on one line, and the parser reads that back
/// as the same value, which the writer writes the same way.
func checkJSON(_ bytes: [UInt8]) {
    guard let value = try? JSONParser.parse(bytes) else { return }
    check(String(validating: bytes, as: UTF8.self) != nil, "the parser accepted text that is not UTF-8")
    roundTrip(value, "a value")
}

func roundTrip(_ value: JSONValue, _ what: String) {
    let written = JSONWriter.bytes(value)
    check(!written.contains(0x0A) && !written.contains(0x0D), "\(what) was written with a line end")
    do {
        let reread = try JSONParser.parse(written)
        check(reread == value, "\(what) reads back as \(reread), not \(value)")
        check(JSONWriter.bytes(reread) == written, "\(what) is written differently the second time")
    } catch {
        fail("\(what), as written (\(String(decoding: written, as: UTF8.self).debugDescription)), is refused: \(error)")
    }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    preconditionFailure("fuzz-json-line: " + message)
}
