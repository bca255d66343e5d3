import Foundation
import SLAIngest
import Testing

@Suite("Rotation, polled at every point (real files)")
struct RotationInterleavingTests {
    /// Six cycles of rename, copytruncate (the copy written in two steps) and delete, with a
    /// poll after each step where `mask` has a bit for it: every line once, whatever the poll
    /// saw in between.
    @Test(
        "rename, copytruncate with a copy made in steps, delete: every line once at every polling point",
        arguments: 0..<64)
    func interleavings(_ mask: Int) throws {
        let dir = try tempFolder()
        let live = dir.appendingPathComponent("app.jsonl")
        _ = FileManager.default.createFile(atPath: live.path, contents: nil)
        let tailer = FileTailer(pattern: dir.path + "/app.jsonl*")
        var written = 0
        var read: [String] = []
        func append(_ n: Int) throws {
            try appendBytes(
                live,
                Array(
                    (0..<n).map { _ in
                        defer { written += 1 }; return "r-\(written)\n"
                    }.joined().utf8))
        }
        var step = 0
        func maybePoll() {
            if mask & (1 << (step % 6)) != 0 { read += texts(tailer.poll(maxLines: 1000)) }
            step += 1
        }
        let fm = FileManager.default
        for cycle in 0..<6 {
            try append(3); maybePoll()
            try fm.moveItem(at: live, to: dir.appendingPathComponent("app.jsonl.r\(cycle)"))
            _ = fm.createFile(atPath: live.path, contents: nil); maybePoll()
            try append(2); maybePoll()
            try append(3); maybePoll()
            // A copy written in two steps, polled in between.
            let whole = try Data(contentsOf: live)
            let copy = dir.appendingPathComponent("app.jsonl.c\(cycle)")
            try whole.prefix(whole.count / 2 + 1).write(to: copy)
            read += texts(tailer.poll(maxLines: 1000))
            try appendBytes(copy, Array(whole.dropFirst(whole.count / 2 + 1)))
            maybePoll()
            try FileHandle(forWritingTo: live).truncate(atOffset: 0); maybePoll()
            try append(2); maybePoll()
            try append(3)
            for _ in 0..<3 { read += texts(tailer.poll(maxLines: 1000)) }
            try fm.removeItem(at: live)
            _ = fm.createFile(atPath: live.path, contents: nil)
        }
        for _ in 0..<3 { read += texts(tailer.poll(maxLines: 1000)) }
        let counts = Dictionary(read.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(
            counts.filter { $0.value > 1 }.keys.sorted().isEmpty,
            "mask \(mask): dup \(counts.filter { $0.value > 1 }.keys.sorted())")
        #expect(
            Set(read).count == written,
            "mask \(mask): missing \(Set((0..<written).map { "r-\($0)" }).subtracting(read).sorted())")
    }
}
