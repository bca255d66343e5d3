#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in milliseconds since the epoch: SLA deadlines are wall-clock instants.
func wallMilliseconds() -> Int64 {
    wallNanoseconds() / 1_000_000
}

/// Wall-clock time, nanoseconds since the Unix epoch.
func wallNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
