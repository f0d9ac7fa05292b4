#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads newline-terminated lines from a file descriptor with a bound on their length.
/// A line longer than the bound is skipped up to its newline and reported as `.tooLong` with its
/// first bytes, so one oversized input never costs more than the bound in memory and can still be told
/// apart from the others.
public struct LineReader {
    public enum Line: Equatable, Sendable {
        /// The line's bytes without the line end (LF, or CRLF).
        case bytes([UInt8])
        /// A line over the limit (which does not count a CR that ends it): the number of bytes it had
        /// before its LF (at least), and its first `keptBytes`.
        case tooLong(Int, start: [UInt8])
    }

    /// How much of an overlong line is kept for its error record.
    public static let keptBytes = 200

    private let fd: Int32
    private let maxLineBytes: Int
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var pending: [UInt8] = []
    private var discarding = false
    private var discardedBytes = 0
    private var discardedStart: [UInt8] = []
    private var atEOF = false

    public init(fd: Int32, maxLineBytes: Int, bufferSize: Int = 64 * 1024) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
        self.buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    /// The next line, or nil at end of input. A last line without a newline is still a line.
    public mutating func next() -> Line? {
        while true {
            if let newline = buffer[start..<end].firstIndex(of: 0x0A) {
                let segment = buffer[start..<newline]
                start = newline + 1
                if discarding {
                    discarding = false
                    keepStart(of: segment)
                    defer { discardedBytes = 0; discardedStart = [] }
                    return .tooLong(discardedBytes + segment.count, start: discardedStart)
                }
                // The limit is on the line without its line end: a CR before the LF does not count.
                let endsInCR = (segment.last ?? pending.last) == 0x0D
                if pending.count + segment.count - (endsInCR ? 1 : 0) > maxLineBytes {
                    defer { pending = [] }
                    let start = Array((pending + segment.prefix(Self.keptBytes)).prefix(Self.keptBytes))
                    return .tooLong(pending.count + segment.count, start: start)
                }
                var line = pending
                pending = []
                line.append(contentsOf: segment)
                if line.last == 0x0D { line.removeLast() }
                return .bytes(line)
            }
            // No newline in what we have: keep it (or count it) and read more.
            let rest = buffer[start..<end]
            if discarding {
                discardedBytes += rest.count
                keepStart(of: rest)
            } else {
                pending.append(contentsOf: rest)
                // One byte over may still be the CR of a CRLF that ends a line of exactly the limit.
                if pending.count > maxLineBytes + 1 {
                    discarding = true
                    discardedBytes = pending.count
                    discardedStart = Array(pending.prefix(Self.keptBytes))
                    pending = []
                }
            }
            start = 0
            end = 0
            if atEOF || !fill() {
                atEOF = true
                if discarding {
                    discarding = false
                    return .tooLong(discardedBytes, start: discardedStart)
                }
                if pending.isEmpty { return nil }
                var line = pending
                pending = []
                if line.count > maxLineBytes + (line.last == 0x0D ? 1 : 0) {
                    return .tooLong(line.count, start: Array(line.prefix(Self.keptBytes)))
                }
                if line.last == 0x0D { line.removeLast() }
                return .bytes(line)
            }
        }
    }

    /// Adds to the kept start of a line being skipped, up to `keptBytes`.
    private mutating func keepStart(of bytes: ArraySlice<UInt8>) {
        if discardedStart.count < Self.keptBytes { discardedStart += bytes.prefix(Self.keptBytes - discardedStart.count) }
    }

    /// Reads into the buffer; false at end of input or on a read error.
    private mutating func fill() -> Bool {
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                end = count
                return true
            }
            if count < 0 && errno == EINTR { continue }
            return false
        }
    }
}
