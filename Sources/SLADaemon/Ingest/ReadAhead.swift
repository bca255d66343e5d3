import Dispatch

/// A read of the sources running on a thread of its own.
final class ReadAhead: @unchecked Sendable {
    // @unchecked: `result` is written by the read before `done` signals, read after the wait.
    private var result: SourceRead?
    private let done = DispatchSemaphore(value: 0)

    /// Starts reading up to `maxLines` lines of `sources`; the caller leaves them alone until ``wait()``.
    init(_ sources: SourceSet, maxLines: Int) {
        DispatchQueue.global().async { [self] in
            result = sources.read(maxLines: maxLines)
            done.signal()
        }
    }

    /// What was read.
    func wait() -> SourceRead {
        done.wait()
        return result!
    }
}
