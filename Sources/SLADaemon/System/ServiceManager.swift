import CSystemd
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of the systemd protocol: readiness and status (`sd_notify`), the watchdog,
/// and the control socket passed by socket activation (`sd_listen_fds`). Every call is a no-op
/// when slad does not run under systemd (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `LISTEN_FDS` unset),
/// so the foreground run needs nothing.
public enum ServiceManager {
    /// Sends `state` (e.g. `READY=1`, `STATUS=…`) to the service manager.
    static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }

    /// `RELOADING=1` with the monotonic time systemd needs to match it to `systemctl reload`.
    static func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        notify("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    /// How often to send `WATCHDOG=1`: half the period systemd asked for, nil when it asked for none.
    static func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }

    /// The listening socket systemd passed (the first one, or the one named `control`), nil when
    /// slad was not socket-activated. `LISTEN_*` are unset afterwards so children never see them.
    public static func activatedSocket() -> Int32? {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else { return nil }
        defer {
            if let names {
                for i in 0..<Int(count) { free(names[i]) }
                free(names)
            }
        }
        let start = Int32(SD_LISTEN_FDS_START)
        for i in 0..<count {
            if let name = names?[Int(i)], String(cString: name) == "control" { return start + i }
        }
        return start
    }
}
