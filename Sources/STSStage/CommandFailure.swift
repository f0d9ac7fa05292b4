#if canImport(Glibc)
import Glibc
#endif
import STSCore

/// How a command reports a failure that stops it before any record is read (bad resolver address,
/// unreadable file): one line on stderr naming the command, then a non-zero exit. Never a trace.
public enum CommandFailure {
    public static func exit(_ command: String, _ message: String, code: Int32 = 2) -> Never {
        var line = Array("\(command): \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        Glibc.exit(code)
    }
}
