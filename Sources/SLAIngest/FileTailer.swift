import Foundation
import SLACore

#if canImport(Glibc)
import Glibc
#endif

/// A complete line read from a tailed file.
public struct TailedLine: Sendable {
    /// The file's identity (hash of its first line).
    public var fingerprint: String
    /// Where the file is (or was) when read.
    public var path: String
    /// Byte offset of the line's first byte.
    public var offset: Int64
    /// 1-based line number in the file.
    public var number: Int
    /// The line without its newline (cut at the line limit when too long): a slice of the
    /// chunk it was read in, so that a line costs no allocation of its own.
    public var bytes: ArraySlice<UInt8>
    /// The line was longer than the limit; `bytes` holds its start only.
    public var tooLong: Bool
}

/// Where reading of one file stands.
public struct FilePosition: Sendable, Hashable {
    /// The file's identity.
    public var fingerprint: String
    /// Where it was last seen.
    public var path: String
    /// Its inode.
    public var inode: UInt64
    /// Bytes consumed, always at a line boundary.
    public var offset: Int64
    /// Lines consumed.
    public var line: Int

    /// Creates a position.
    public init(fingerprint: String, path: String, inode: UInt64, offset: Int64, line: Int) {
        self.fingerprint = fingerprint
        self.path = path
        self.inode = inode
        self.offset = offset
        self.line = line
    }
}

/// Follows the files matching a path or glob, line by line, across rotation.
///
/// Files are identified by a fingerprint of their first line plus their inode,
/// as the best log shippers do: a renamed file keeps its identity (and its
/// offset), a re-created or truncated file gets a new one, and a reused inode
/// with different content is a new file. A file is kept open until it has been
/// read to its end, so lines written just before a rename or a deletion are
/// not lost. A partial last line waits for its newline. Not `Sendable`: one
/// ingest loop owns it.
public final class FileTailer {
    /// The path or glob.
    public let pattern: String
    /// Lines longer than this are cut and flagged.
    public let maxLineBytes: Int
    private var states: [String: State] = [:]

    private final class State {
        var position: FilePosition
        var fd: Int32 = -1
        /// Where to resume looking for the end of an over-long line.
        var scanFrom: Int64 = 0
        init(_ position: FilePosition) { self.position = position }
        deinit { if fd >= 0 { close(fd) } }
    }

    /// Creates a tailer resuming from `saved` positions.
    public init(pattern: String, maxLineBytes: Int = 1 << 20, saved: [FilePosition] = []) {
        self.pattern = pattern
        self.maxLineBytes = maxLineBytes
        for p in saved { states[p.fingerprint] = State(p) }
    }

    /// The current position of every file seen.
    public var positions: [FilePosition] { states.values.map(\.position).sorted { $0.fingerprint < $1.fingerprint } }

    /// Reads up to `maxLines` complete new lines from all files, oldest file first.
    public func poll(maxLines: Int) -> [TailedLine] {
        var lines: [TailedLine] = []
        // Files that currently match, identified.
        var current: [String: (path: String, inode: UInt64, size: Int64, mtime: Int)] = [:]
        for path in Self.glob(pattern) {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            guard let fp = Self.fingerprint(path: path) else { continue }
            let size = Int64(st.st_size)
            if let existing = current[fp], existing.size >= size { continue }
            current[fp] = (path, UInt64(st.st_ino), size, Int(st.st_mtim.tv_sec))
        }
        // Oldest first: rotated generations before the live file.
        let order = current.sorted { ($0.value.mtime, $0.value.path) < ($1.value.mtime, $1.value.path) }
        for (fp, file) in order {
            let state =
                states[fp]
                ?? State(FilePosition(fingerprint: fp, path: file.path, inode: file.inode, offset: 0, line: 0))
            states[fp] = state
            if state.fd < 0 || state.position.inode != file.inode {
                if state.fd >= 0 { close(state.fd) }
                state.fd = open(file.path, O_RDONLY | O_CLOEXEC)
                // The path may have been renamed and re-created since it was listed:
                // trust only the inode of what was actually opened.
                var opened = stat()
                if state.fd >= 0, fstat(state.fd, &opened) != 0 || UInt64(opened.st_ino) != file.inode {
                    close(state.fd)
                    state.fd = -1
                }
                state.position.inode = file.inode
            }
            state.position.path = file.path
            guard state.fd >= 0 else { continue }
            if file.size < state.position.offset {
                // Truncated in place and rewritten with the same first line: a new file after all.
                state.position.offset = 0
                state.position.line = 0
                state.scanFrom = 0
            }
            readVerified(state, into: &lines, limit: maxLines)
            if lines.count >= maxLines { return lines }
        }
        // Drain files that left the pattern (renamed away, deleted) through their open descriptor.
        for (fp, state) in states where current[fp] == nil && state.fd >= 0 {
            readVerified(state, into: &lines, limit: maxLines)
            if lines.count >= maxLines { return lines }
            close(state.fd)
            state.fd = -1
        }
        return lines
    }

    /// Reads, then checks through the same descriptor that the file still starts
    /// with the line it is identified by. A copytruncate can truncate and refill
    /// the file between choosing it and reading it; what was read then belongs
    /// to the new content, so it is dropped and the position restored (the
    /// rotated copy still holds the old lines, the new file is read on its own).
    private func readVerified(_ state: State, into lines: inout [TailedLine], limit: Int) {
        let before = (state.position, state.scanFrom, lines.count)
        read(state, into: &lines, limit: limit)
        guard lines.count > before.2 || state.position != before.0 else { return }
        if Self.fingerprint(fd: state.fd) != state.position.fingerprint {
            lines.removeSubrange(before.2...)
            state.position = before.0
            state.scanFrom = before.1
            // Reopen by path next time: this descriptor no longer shows that file.
            close(state.fd)
            state.fd = -1
        }
    }

    /// Reads complete lines of one file from its offset.
    private func read(_ state: State, into lines: inout [TailedLine], limit: Int) {
        let chunk = 1 << 20
        while lines.count < limit {
            let start = state.position.offset
            // A fresh chunk each time: the lines of the previous one still hold slices of it.
            let buffer = [UInt8](unsafeUninitializedCapacity: chunk) { b, count in
                count = max(0, pread(state.fd, b.baseAddress, chunk, off_t(start)))
            }
            let n = buffer.count
            guard n > 0 else { return }
            var lineStart = 0
            var progressed = false
            while lineStart < n, lines.count < limit {
                let newline = buffer.withUnsafeBytes { raw in
                    memchr(raw.baseAddress! + lineStart, 0x0A, n - lineStart).map { raw.baseAddress!.distance(to: $0) }
                }
                guard let i = newline else { break }
                let length = i - lineStart
                let tooLong = length > maxLineBytes
                var end = tooLong ? lineStart + maxLineBytes : i
                if !tooLong, end > lineStart, buffer[end - 1] == 0x0D { end -= 1 }
                state.position.line += 1
                lines.append(
                    TailedLine(
                        fingerprint: state.position.fingerprint, path: state.position.path,
                        offset: start + Int64(lineStart), number: state.position.line, bytes: buffer[lineStart..<end],
                        tooLong: tooLong))
                lineStart = i + 1
                progressed = true
            }
            state.position.offset = start + Int64(lineStart)
            if !progressed {
                // No newline in a whole chunk: an over-long line still being written, or one to skip.
                if n == chunk { skipLongLine(state, into: &lines) }
                return
            }
            if n < chunk { return }
        }
    }

    /// Finds the end of a line longer than a chunk and reports it as too long.
    private func skipLongLine(_ state: State, into lines: inout [TailedLine]) {
        let headSize = min(maxLineBytes, 1 << 20)
        var head = [UInt8](repeating: 0, count: headSize)
        let got = head.withUnsafeMutableBytes {
            pread(state.fd, $0.baseAddress, headSize, off_t(state.position.offset))
        }
        let probeSize = 1 << 16
        var probe = [UInt8](repeating: 0, count: probeSize)
        var at = max(state.scanFrom, state.position.offset)
        while true {
            let n = probe.withUnsafeMutableBytes { pread(state.fd, $0.baseAddress, probeSize, off_t(at)) }
            guard n > 0 else {
                state.scanFrom = at
                return
            }
            if let nl = probe[0..<n].firstIndex(of: 0x0A) {
                state.position.line += 1
                lines.append(
                    TailedLine(
                        fingerprint: state.position.fingerprint, path: state.position.path,
                        offset: state.position.offset,
                        number: state.position.line, bytes: head.prefix(max(0, got)), tooLong: true))
                state.position.offset = at + Int64(nl) + 1
                state.scanFrom = state.position.offset
                return
            }
            at += Int64(n)
        }
    }

    /// The fingerprint of a file: FNV-1a 64 of its first line, or nil until the first line is complete.
    static func fingerprint(path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return fingerprint(fd: fd)
    }

    /// The fingerprint of an open file.
    static func fingerprint(fd: Int32) -> String? {
        var head = [UInt8](repeating: 0, count: 4096)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 0) }
        guard n > 0 else { return nil }
        // A first line longer than 4 KiB is identified by its first 4 KiB.
        let end = head[0..<n].firstIndex(of: 0x0A).map { $0 + 1 } ?? (n == 4096 ? 4096 : -1)
        guard end > 0 else { return nil }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in head[0..<end] {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(h, radix: 16)
    }

    /// Paths matching a glob, sorted.
    static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
    }
}

/// Wakes the ingest loop when a watched folder changes (inotify), or after a timeout (polling fallback).
public final class FolderWatcher {
    private var fd: Int32 = -1

    /// Watches the folders of `patterns`; falls back to plain timeouts when inotify is unavailable.
    public init(patterns: [String]) {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE)
        for dir in Set(patterns.map { ($0 as NSString).deletingLastPathComponent }) {
            _ = inotify_add_watch(fd, dir.isEmpty ? "." : dir, mask)
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Whether inotify is in use.
    public var usesInotify: Bool { fd >= 0 }

    /// Waits until something changes, `other` becomes readable (another wake-up source,
    /// e.g. an eventfd; the caller drains it), or `nanoseconds` pass.
    ///
    /// `poll` counts whole milliseconds, rounded down here so that it never wakes after the
    /// time asked; the last fraction of a millisecond is slept with `nanosleep`. The daemon
    /// sleeps until its next deadline this way, and rounding up woke it up to a millisecond late.
    public func wait(nanoseconds: Int64, alsoWatching other: Int32 = -1) {
        let milliseconds = nanoseconds / 1_000_000
        guard milliseconds > 0 else {
            var rest = timespec(tv_sec: 0, tv_nsec: Int(max(0, nanoseconds)))
            nanosleep(&rest, nil)
            return
        }
        var fds = [
            pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: other, events: Int16(POLLIN), revents: 0),
        ]
        // poll ignores negative descriptors, so one call covers inotify, the other source, and neither.
        if poll(&fds, 2, Int32(min(milliseconds, Int64(Int32.max)))) > 0, fds[0].revents != 0 {
            var drain = [UInt8](repeating: 0, count: 65_536)
            while drain.withUnsafeMutableBytes({ Glibc.read(fd, $0.baseAddress, 65_536) }) > 0 {}
        }
    }
}
