/// Incremental netstring decoder (`<length>:<payload>,`), the framing of Postfix's socketmap protocol.
///
/// Bytes arrive in any pieces; `next()` hands out each complete payload. The length is bounded before
/// any payload is buffered, so a peer cannot make us hold more than `maxPayload` bytes. After a
/// malformed frame the decoder stays failed: the stream cannot be resynchronised.
public struct NetstringDecoder: Sendable {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case badLength
        case tooLong(Int)
        case missingComma

        public var description: String {
            switch self {
            case .badLength: "malformed netstring length"
            case .tooLong(let limit): "netstring longer than \(limit) bytes"
            case .missingComma: "netstring not terminated by ','"
            }
        }
    }

    public let maxPayload: Int
    /// Digits of `maxPayload`: a longer length is refused before it is read whole.
    private let maxDigits: Int
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var failure: Failure?

    /// Postfix's socketmap client sends at most 10000 bytes.
    public init(maxPayload: Int = 10_000) {
        self.maxPayload = maxPayload
        self.maxDigits = NetstringEncoder.digitCount(maxPayload)
    }

    public mutating func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        makeRoom()
        buffer.append(contentsOf: bytes)
    }

    /// The same for bytes in memory, copied in one go (a connection's reads come this way).
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        makeRoom()
        buffer.append(contentsOf: bytes)
    }

    private mutating func makeRoom() {
        if consumed == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            consumed = 0
        } else if consumed > 4096 && consumed * 2 > buffer.count {
            buffer.removeFirst(consumed)
            consumed = 0
        }
    }

    /// The next complete payload; nil when more bytes are needed. Throws once the stream is malformed.
    public mutating func next() throws(Failure) -> [UInt8]? {
        if let failure { throw failure }
        var index = consumed
        var length = 0
        var digits = 0
        while index < buffer.count, buffer[index] != UInt8(ascii: ":") {
            let byte = buffer[index]
            guard byte >= 0x30 && byte <= 0x39 else { return try fail(.badLength) }
            digits += 1
            guard digits <= maxDigits else { return try fail(.tooLong(maxPayload)) }
            length = length * 10 + Int(byte - 0x30)
            index += 1
        }
        guard index < buffer.count else { return nil }  // no ':' yet
        guard digits > 0 else { return try fail(.badLength) }
        guard length <= maxPayload else { return try fail(.tooLong(maxPayload)) }
        let start = index + 1
        guard buffer.count >= start + length + 1 else { return nil }
        guard buffer[start + length] == UInt8(ascii: ",") else { return try fail(.missingComma) }
        let payload = Array(buffer[start..<start + length])
        consumed = start + length + 1
        return payload
    }

    /// Bytes received and not yet part of a returned payload.
    public var pendingByteCount: Int { buffer.count - consumed }

    private mutating func fail(_ failure: Failure) throws(Failure) -> [UInt8]? {
        self.failure = failure
        buffer = []
        consumed = 0
        throw failure
    }
}

/// Netstring framing for replies.
public enum NetstringEncoder {
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 8)
        out.append(contentsOf: String(payload.count).utf8)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: payload)
        out.append(UInt8(ascii: ","))
        return out
    }

    public static func encode(_ payload: String) -> [UInt8] {
        encode(payload, "")
    }

    /// The netstring of `first` followed by `second`, in one buffer sized once.
    public static func encode(_ first: String, _ second: String) -> [UInt8] {
        let count = encodedCount(first, second)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = encode(first, second, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// The size of the netstring of `first` followed by `second`.
    public static func encodedCount(_ first: String, _ second: String) -> Int {
        let length = first.utf8.count + second.utf8.count
        return digitCount(length) + 1 + length + 1
    }

    /// Decimal digits of a netstring length (`value` ≥ 0).
    static func digitCount(_ value: Int) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return digits
    }

    /// Writes the netstring of `first` followed by `second` at the start of `out`, which holds at least
    /// `encodedCount(first, second)` bytes; returns that count. Every reply to Postfix goes through
    /// here, straight into the buffer that is sent.
    public static func encode(_ first: String, _ second: String, into out: UnsafeMutableRawBufferPointer) -> Int {
        let count = encodedCount(first, second)
        precondition(out.count >= count, "netstring buffer too small")
        let length = first.utf8.count + second.utf8.count
        var end = count - length - 2  // the length's digits, written from the right
        var rest = length
        repeat {
            end -= 1
            out[end] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        } while rest > 0
        let colon = count - length - 2
        out[colon] = UInt8(ascii: ":")
        let afterFirst = copy(first, into: out, at: colon + 1)
        out[copy(second, into: out, at: afterFirst)] = UInt8(ascii: ",")
        return count
    }

    /// Copies `text`'s bytes to `out` at `offset`; returns the offset after them. (No closure that
    /// captures a counter: every reply passes here.)
    private static func copy(_ text: String, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var text = text
        let count = text.utf8.count
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            (out.baseAddress! + offset).copyMemory(from: base, byteCount: bytes.count)
        }
        return offset + count
    }
}
