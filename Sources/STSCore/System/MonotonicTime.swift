#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds on the monotonic clock, for timing one lookup: plain integers, where `ContinuousClock`'s
/// instants and durations compute in 128 bits.
public enum MonotonicTime {
    public static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }
}
