import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid, for programs that
/// Foundation's `Process` loses track of.
///
/// `Process` learns that a child ended when the child's end of a socket pair closes, then waits
/// for it without a timeout on the one thread that watches every child. A program that closes
/// the descriptors it did not expect (systemd-socket-activate does, before it execs the
/// program it activates) therefore blocks that thread until it really ends, and no other child
/// of the test process is seen to end meanwhile: `Process.waitUntilExit` hangs for all of them.
public final class Spawned: @unchecked Sendable {
    /// The child's process id.
    public let pid: pid_t
    private var status: Int32?
    private let lock = NSLock()

    /// Starts `arguments` (the first is the program's path), standard input from /dev/null,
    /// standard output and error into `output` (appended to, or truncated first), with no
    /// descriptor past the standard three.
    public init(_ arguments: [String], output: URL, append: Bool = true) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(
            &actions, 1, output.path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // NIO opens its sockets without close-on-exec: without this, a server started from a
        // test (postgres, through pg_ctl) would keep a listening control socket of a daemon
        // running in the test process alive after that daemon closed it.
        guard Self.closeFrom(&actions, 3) == 0 else {
            throw SpawnFailure("posix_spawn cannot close descriptors from 3")
        }
        var cArgs = arguments.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &cArgs, environ)
        guard spawned == 0 else {
            throw SpawnFailure("cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
    }

    /// Whether the child still runs (it is reaped once it ended).
    public var isRunning: Bool { reap(block: false) == nil }

    /// Waits for the child to end: its exit status, or 128 + the signal that ended it.
    @discardableResult
    public func wait() -> Int32 { reap(block: true)! }

    /// Sends `signal` to the child, while it runs.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    private func reap(block: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var raw: Int32 = 0
        while true {
            let r = waitpid(pid, &raw, block ? 0 : WNOHANG)
            if r < 0 && errno == EINTR { continue }
            guard r == pid else { return nil }
            break
        }
        status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return status
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34), which its header declares only
    /// under `_GNU_SOURCE`: looked up by name, called through its C signature.
    static let closeFrom: @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32 = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { fatalError("glibc 2.34 or later is needed: posix_spawn_file_actions_addclosefrom_np is missing") }
        return unsafeBitCast(
            symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()
}

/// Why a child could not be started.
public struct SpawnFailure: Error, CustomStringConvertible {
    /// What failed, and why.
    public var description: String
    init(_ description: String) { self.description = description }
}
