#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in Unix seconds, the time cache entries and log lines are written in.
public enum UnixTime {
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }
}
