import Dispatch
import Foundation

/// Pure work over many items spread over the cores, with results in item order: evaluating the
/// incidents an ingest batch touched (docs/benchmarks.md, ingest). The engine thread waits for
/// it, so nothing else of the engine runs meanwhile.
enum ForkJoin {
    /// Below this many items one thread does it all: a fork costs more than it saves.
    static let minimum = 2_000

    /// `[element(0), element(1), …]`, computed in contiguous parts on every core.
    static func map<T>(_ count: Int, _ element: (Int) -> T) -> [T] {
        let parts = min(ProcessInfo.cores, count / minimum)
        guard parts > 1 else { return (0..<count).map(element) }
        return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            // Each part initializes only its own range of the buffer.
            nonisolated(unsafe) let base = buffer.baseAddress!
            withoutActuallyEscaping(element) { element in
                nonisolated(unsafe) let element = element
                DispatchQueue.concurrentPerform(iterations: parts) { part in
                    for i in (count * part / parts)..<(count * (part + 1) / parts) {
                        (base + i).initialize(to: element(i))
                    }
                }
            }
            initialized = count
        }
    }
}

extension ProcessInfo {
    /// Cores this process may run on.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
