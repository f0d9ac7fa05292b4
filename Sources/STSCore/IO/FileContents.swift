#if canImport(Glibc)
import Glibc
#endif

/// Reads a local file with a bound on how much is read.
public enum FileContents {
    /// At most `limit` bytes of the file; a longer file yields its first `limit` bytes, so the caller
    /// can tell "too large" by the count.
    public static func read(_ path: String, limit: Int) throws(STSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw STSError(.invalidInput, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit)
        var count = 0
        while count < limit {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, limit - count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw STSError(.invalidInput, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            count += n
        }
        return Array(bytes[..<count])
    }
}
