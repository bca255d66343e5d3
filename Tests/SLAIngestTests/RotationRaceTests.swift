import Foundation
import SLAIngest
import Synchronization
import Testing

@Suite("Rotation while a writer rotates on its own thread (real files)")
struct RotationRaceTests {
    /// A writer rotates by rename, by copytruncate and by deletion, 200 times, while the tailer
    /// polls as fast as it can: polls fall anywhere, in the middle of a copy, between a listing
    /// and an open. Every line is read once.
    @Test("200 rotations of each kind against a tailer polling all the while: every line once, none twice")
    func concurrentRotation() throws {
        let dir = try tempFolder()
        let live = dir.appendingPathComponent("app.jsonl")
        _ = FileManager.default.createFile(atPath: live.path, contents: nil)
        let tailer = FileTailer(pattern: dir.path + "/app.jsonl*")
        let done = Atomic<Bool>(false)
        let total = Atomic<Int>(0)
        let seen = Atomic<Int>(0)
        let writer = Thread {
            var written = 0
            func append(_ n: Int) {
                let text = (0..<n).map { k in "r-\(written + k)\n" }.joined()
                written += n
                try! appendBytes(live, Array(text.utf8))
            }
            let fm = FileManager.default
            for cycle in 0..<200 {
                append(3)
                try! fm.moveItem(at: live, to: dir.appendingPathComponent("app.jsonl.r\(cycle)"))
                _ = fm.createFile(atPath: live.path, contents: nil)
                append(5)
                try! fm.copyItem(at: live, to: dir.appendingPathComponent("app.jsonl.c\(cycle)"))
                try! FileHandle(forWritingTo: live).truncate(atOffset: 0)
                append(5)
                // What was written before a deletion is read first, as by a log shipper.
                while seen.load(ordering: .acquiring) < written { usleep(1_000) }
                try! fm.removeItem(at: live)
                _ = fm.createFile(atPath: live.path, contents: nil)
            }
            total.store(written, ordering: .releasing)
            done.store(true, ordering: .releasing)
        }
        writer.start()
        var counts: [String: Int] = [:]
        func poll() {
            for line in texts(tailer.poll(maxLines: 1_000)) { counts[line, default: 0] += 1 }
            seen.store(counts.count, ordering: .releasing)
        }
        while !done.load(ordering: .acquiring) { poll() }
        for _ in 0..<5 { poll() }
        #expect(counts.filter { $0.value > 1 }.keys.sorted() == [], "lines read twice")
        #expect(counts.count == total.load(ordering: .acquiring), "lines never read")
    }
}
