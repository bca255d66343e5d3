import Foundation
import SLACore

/// Evaluating the incidents an ingest batch touched, spread over the cores once there are
/// enough of them. The engine thread waits for it, so nothing else of the engine runs meanwhile.
enum ForkJoin {
    /// Below this many items one thread does it all: a fork costs more than it saves.
    static let minimum = 2_000

    /// `[element(0), element(1), …]`, computed in contiguous parts on every core.
    static func map<T>(_ count: Int, _ element: (Int) -> T) -> [T] {
        Parallel.map(count, parts: min(ProcessInfo.cores, count / minimum), element)
    }
}

extension ProcessInfo {
    /// Cores this process may run on.
    static let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
