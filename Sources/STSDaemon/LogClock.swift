#if canImport(Glibc)
import Glibc
#endif

import STSCore

/// The time for log lines, `2026-11-25T09:37:05Z`, formatted once per second. Kept by the log sink,
/// under the lock its lines are added with.
struct LogClock {
    private var second = -1
    private var text: [UInt8] = []

    mutating func now() -> [UInt8] {
        let now = Int(UnixTime.now())
        if now != second {
            second = now
            text = Array(Self.format(now).utf8)
        }
        return text
    }

    static func format(_ second: Int) -> String {
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
