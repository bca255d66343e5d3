import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The one-writer guard of a state folder: an exclusive `flock` on `slad.lock` in it, held
/// while the daemon runs and released by the kernel when the process ends, however it ends (no
/// stale PID file after a crash). The holder writes its PID into the file so that a second
/// slad can say which process holds the folder.
final class StateLock {
    private let fd: Int32

    /// Takes the lock of `folder`, or throws naming the process that holds it.
    init(folder: String) throws {
        let path = folder + "/slad.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DaemonError(
                "slad: cannot open the state folder's lock", ["lock": path, "error": String(cString: strerror(errno))])
        }
        // Thrown from here on, the lock is released and closed by deinit, which runs for a class
        // whose stored properties are all set: closing here too would close a descriptor twice.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.holder(fd)
            throw DaemonError(
                "slad: another slad uses this state folder; one writer per store",
                ["state": folder, "holder_pid": holder.map(String.init) ?? "unknown", "lock": path])
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.count, 0)
    }

    deinit {
        guard fd >= 0 else { return }
        close(fd)
    }

    /// The PID written in the lock file by its holder.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 32, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
