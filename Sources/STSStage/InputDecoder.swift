import STSCore

/// Turns one input line into a record: a JSON object as it is, or a bare domain name as
/// `{"domain": "<name>"}`. Anything else is an `invalid-input` error record, never a crash.
public enum InputDecoder {
    /// Longest excerpt of a bad line echoed back in its error record.
    static let excerptLength = LineReader.keptBytes

    /// nil for a blank line (skipped, not a record).
    public static func decode(_ line: LineReader.Line, lineNumber: Int, maxLineBytes: Int) -> Result<JSONObject, InputError>? {
        switch line {
        case .tooLong(let count, let start):
            return .failure(InputError(lineNumber: lineNumber, message: "line is \(count) bytes, longer than the limit of \(maxLineBytes)",
                                       excerpt: excerpt(start[...])))
        case .bytes(let bytes):
            let trimmed = bytes.trimmingASCIIWhitespace()
            if trimmed.isEmpty { return nil }
            // Anything that starts like JSON is read as JSON (and must be an object).
            if let first = trimmed.first, first == UInt8(ascii: "{") || first == UInt8(ascii: "[") || first == UInt8(ascii: "\"") {
                do {
                    let value = try JSONParser.parse(trimmed)
                    guard case .object(let object) = value else {
                        return .failure(InputError(lineNumber: lineNumber, message: "not a JSON object", excerpt: excerpt(trimmed)))
                    }
                    return .success(object)
                } catch {
                    return .failure(InputError(lineNumber: lineNumber, message: "invalid JSON: \(error)", excerpt: excerpt(trimmed)))
                }
            }
            // A JSON number, true, false or null is JSON too, but no record (and no domain name).
            if isJSONScalar(trimmed) {
                return .failure(InputError(lineNumber: lineNumber, message: "not a JSON object", excerpt: excerpt(trimmed)))
            }
            guard let text = String(validating: trimmed, as: UTF8.self) else {
                return .failure(InputError(lineNumber: lineNumber, message: "not valid UTF-8", excerpt: excerpt(trimmed)))
            }
            if trimmed.contains(where: { $0 < 0x20 || $0 == 0x20 || $0 == 0x7F }) {
                return .failure(InputError(lineNumber: lineNumber, message: "neither a JSON object nor a domain name", excerpt: excerpt(trimmed)))
            }
            return .success(["domain": .string(text)])
        }
    }

    private static func isJSONScalar(_ bytes: ArraySlice<UInt8>) -> Bool {
        if bytes.elementsEqual("true".utf8) || bytes.elementsEqual("false".utf8) || bytes.elementsEqual("null".utf8) { return true }
        guard let first = bytes.first, first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return false }
        // A name such as 3com.example starts with a digit too: only what parses as a number is one.
        if case .some(.number) = try? JSONParser.parse(bytes) { return true }
        return false
    }

    private static func excerpt(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix(excerptLength), as: UTF8.self)
    }
}

/// A line that could not be read as a record.
public struct InputError: Error, Sendable, Equatable {
    public var lineNumber: Int
    public var message: String
    public var excerpt: String?

    /// The output record for it: `{"error": {...}, "line": N, "input": "..."}`.
    public var record: JSONObject {
        var record: JSONObject = ["error": STSError(.invalidInput, "line \(lineNumber): \(message)").json, "line": .int(lineNumber)]
        if let excerpt { record["input"] = .string(excerpt) }
        return record
    }
}

extension Array where Element == UInt8 {
    func trimmingASCIIWhitespace() -> ArraySlice<UInt8> {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return [] }
        let last = lastIndex(where: { !isSpace($0) })!
        return self[first...last]
    }
}
