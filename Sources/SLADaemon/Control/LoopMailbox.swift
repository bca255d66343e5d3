import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What other threads hand to a loop on its own thread (the engine loop): jobs (control
/// requests, reloads), which run on the loop's thread between batches so that what the loop
/// owns needs no lock, and the request to stop. A post or a stop wakes the loop at once: a
/// byte on a self-pipe the loop polls beside inotify.
final class LoopMailbox<Owner>: Sendable {
    typealias Job = @Sendable (Owner) -> Void
    private let jobs = Mutex<(queue: [Job], closed: Bool)>(([], false))
    private let stopping = Atomic<Bool>(false)
    private let pipeEnds: (read: Int32, write: Int32)
    /// The descriptor the loop polls to be woken.
    var wakeDescriptor: Int32 { pipeEnds.read }

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        pipeEnds = (fds[0], fds[1])
    }

    deinit {
        Glibc.close(pipeEnds.read)
        Glibc.close(pipeEnds.write)
    }

    /// Queues `job`; false once the loop has stopped.
    @discardableResult
    func post(_ job: @escaping Job) -> Bool {
        let accepted = jobs.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.queue.append(job)
            return true
        }
        if accepted { wake() }
        return accepted
    }

    /// Asks the loop to finish its batch and stop.
    func requestStop() {
        stopping.store(true, ordering: .releasing)
        wake()
    }

    /// Whether a stop was requested.
    var stopRequested: Bool { stopping.load(ordering: .acquiring) }

    private func wake() {
        var one: UInt8 = 1
        _ = write(pipeEnds.write, &one, 1)
    }

    /// Runs what is queued (on the loop's thread).
    func run(_ owner: Owner) {
        var drain = [UInt8](repeating: 0, count: 256)
        while read(pipeEnds.read, &drain, drain.count) > 0 {}
        let queued = jobs.withLock { state -> [Job] in
            defer { state.queue = [] }
            return state.queue
        }
        for job in queued { job(owner) }
    }

    /// Refuses new work; what is queued still runs once more.
    func close(_ owner: Owner) {
        jobs.withLock { $0.closed = true }
        run(owner)
    }
}
