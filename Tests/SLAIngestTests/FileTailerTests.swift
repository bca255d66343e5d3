import Foundation
import SLAIngest
import Testing

func tempFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("slad-tail-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func appendBytes(_ url: URL, _ bytes: [UInt8]) throws {
    if !FileManager.default.fileExists(atPath: url.path) {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    }
    let h = try FileHandle(forWritingTo: url)
    h.seekToEndOfFile()
    h.write(Data(bytes))
    try h.close()
}

func texts(_ lines: [TailedLine]) -> [String] { lines.map { String(decoding: $0.bytes, as: UTF8.self) } }

@Suite("File tailing (real files)")
struct FileTailerTests {
    @Test("a partial last line waits for its newline; CRLF is stripped; offsets stay at line boundaries")
    func partialLines() throws {
        let dir = try tempFolder()
        let file = dir.appendingPathComponent("a.log")
        try appendBytes(file, Array("one\r\ntw".utf8))
        let tailer = FileTailer(pattern: file.path)
        #expect(texts(tailer.poll(maxLines: 10)) == ["one"])
        #expect(tailer.positions.first?.offset == 5)
        #expect(tailer.poll(maxLines: 10).isEmpty)
        try appendBytes(file, Array("o\nthree\n".utf8))
        let next = tailer.poll(maxLines: 10)
        #expect(texts(next) == ["two", "three"])
        #expect(next.map(\.number) == [2, 3])
        #expect(next.map(\.offset) == [5, 9])
    }

    @Test("lines over the limit are cut and flagged, the next line is intact; binary junk is just bytes")
    func longAndBinary() throws {
        let dir = try tempFolder()
        let file = dir.appendingPathComponent("a.log")
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 3_000_000)
        try appendBytes(
            file, Array("first\n".utf8) + long + [0x0A] + [0x00, 0xFF, 0xFE, 0x01, 0x0A] + Array("last\n".utf8))
        let tailer = FileTailer(pattern: file.path, maxLineBytes: 1000)
        var lines: [TailedLine] = []
        for _ in 0..<10 { lines += tailer.poll(maxLines: 100) }
        #expect(lines.count == 4)
        #expect(lines.map(\.tooLong) == [false, true, false, false])
        #expect(lines[1].bytes.count == 1000)
        #expect(lines[2].bytes == [0x00, 0xFF, 0xFE, 0x01])
        #expect(texts([lines[3]]) == ["last"])
        #expect(lines.map(\.number) == [1, 2, 3, 4])
    }

    @Test("restart from saved positions reads only what is new; a re-created file (inode reuse) starts over")
    func resumeAndReuse() throws {
        let dir = try tempFolder()
        let file = dir.appendingPathComponent("a.log")
        try appendBytes(file, Array("a1\na2\n".utf8))
        let first = FileTailer(pattern: dir.path + "/*.log")
        #expect(texts(first.poll(maxLines: 10)) == ["a1", "a2"])
        try appendBytes(file, Array("a3\n".utf8))
        let resumed = FileTailer(pattern: dir.path + "/*.log", saved: first.positions)
        #expect(texts(resumed.poll(maxLines: 10)) == ["a3"])
        // Delete and re-create: likely the same inode, certainly other content.
        try FileManager.default.removeItem(at: file)
        try appendBytes(file, Array("b1\n".utf8))
        #expect(texts(resumed.poll(maxLines: 10)) == ["b1"])
        #expect(resumed.positions.count == 2)
    }

    @Test("a file with an incomplete first line is not identified yet")
    func noFingerprintYet() throws {
        let dir = try tempFolder()
        let file = dir.appendingPathComponent("a.log")
        try appendBytes(file, Array("no newline yet".utf8))
        let tailer = FileTailer(pattern: file.path)
        #expect(tailer.poll(maxLines: 10).isEmpty)
        #expect(tailer.positions.isEmpty)
        try appendBytes(file, [0x0A])
        #expect(texts(tailer.poll(maxLines: 10)) == ["no newline yet"])
    }
}
