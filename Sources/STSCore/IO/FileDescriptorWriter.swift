#if canImport(Glibc)
import Glibc
#endif

/// Writing whole buffers to a file descriptor, the one way every writer here does it.
public enum FileDescriptorWriter {
    /// Writes all of `bytes`, retrying after signals; false if the descriptor stopped taking them
    /// (EPIPE, a full disk, a closed descriptor). `errno` tells why.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        writeWhole(fd, bytes) == .written
    }

    public enum Outcome: Equatable, Sendable {
        case written
        /// The descriptor had no room and nothing was written.
        case full
        /// It stopped taking bytes (EPIPE, a closed descriptor), or had no room for the rest of a
        /// message it had taken the start of within `patience`: what it holds is cut short.
        case failed
    }

    /// Writes all of `bytes` to a non-blocking descriptor, or nothing: `full` when it has no room at
    /// all, so that the caller can refuse the message instead of waiting. A message no larger than
    /// PIPE_BUF goes into a pipe whole or not at all; the rest of a larger one that went in part is
    /// waited for, at most `patience` milliseconds.
    public static func writeWhole(_ fd: Int32, _ bytes: [UInt8], patience: Int32 = 5000) -> Outcome {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    if offset == 0 { return .full }
                    var room = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    let ready = poll(&room, 1, patience)
                    if ready < 0 && errno == EINTR { continue }
                    if ready <= 0 { return .failed }
                } else {
                    return .failed
                }
            }
            return .written
        }
    }
}
