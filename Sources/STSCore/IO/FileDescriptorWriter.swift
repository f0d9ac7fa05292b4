#if canImport(Glibc)
import Glibc
#endif

/// Writing whole buffers to a file descriptor, the one way every writer here does it.
public enum FileDescriptorWriter {
    /// Writes all of `bytes`, retrying after signals; false if the descriptor stopped taking them
    /// (EPIPE, a full disk, a closed descriptor). `errno` tells why.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return false
                }
            }
            return true
        }
    }
}
