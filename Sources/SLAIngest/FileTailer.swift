import Foundation
import SLACore

#if canImport(Glibc)
import Glibc
#endif

/// A complete line read from a tailed file.
public struct TailedLine: Sendable {
    /// The file's identity (``FilePosition/fingerprint``).
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
    /// The file's identity: the hash of its first line, and for a second file whose first line
    /// is the same (a CSV header, a banner) but whose content is another, that hash with `~2`,
    /// `~3`, … appended.
    public var fingerprint: String
    /// Where it was last seen.
    public var path: String
    /// Its inode.
    public var inode: UInt64
    /// Bytes consumed, always at a line boundary.
    public var offset: Int64
    /// Lines consumed.
    public var line: Int
    /// The hash of the last line consumed (``FileTailer/tailHash(fd:offset:)``): a file found
    /// under another inode continues this position only when the line ending at `offset` is
    /// the same there. Nil before the first line.
    public var tail: UInt64?

    /// Creates a position.
    public init(fingerprint: String, path: String, inode: UInt64, offset: Int64, line: Int, tail: UInt64? = nil) {
        self.fingerprint = fingerprint
        self.path = path
        self.inode = inode
        self.offset = offset
        self.line = line
        self.tail = tail
    }

    /// The hash of the file's first line, without the `~N` that tells apart files sharing it.
    public var firstLineHash: Substring { fingerprint.prefix { $0 != "~" } }
}

/// Follows the files matching a path or glob, line by line, across rotation.
///
/// A file is its inode and the hash of its first line, so a renamed file keeps its identity
/// and offset, and files that share a first line (CSV exports with one header, logs that open
/// with a banner) are still different files. A file found under another inode continues a
/// known position only when it holds what was read from it: the same first line, and the same
/// line ending at the saved offset (a copy made by copytruncate, a file moved while slad was
/// down). A re-created or truncated file, or a reused inode with other content, starts over.
/// A file is kept open until it has been read to its end, so lines written just before a
/// rename or a deletion are not lost. A partial last line waits for its newline. Not
/// `Sendable`: one ingest loop owns it.
public final class FileTailer {
    /// The path or glob.
    public let pattern: String
    /// Lines longer than this are cut and flagged.
    public let maxLineBytes: Int
    /// Every file seen, by identity (``FilePosition/fingerprint``).
    private var states: [String: State] = [:]
    /// Bytes searched for the end of an over-long line per poll.
    public static let scanBudget: Int64 = 64 << 20
    /// The last poll stopped in the middle of searching an over-long line: poll again soon, as
    /// there is more to read than its lines show.
    public private(set) var scanning = false
    /// Why files that match the pattern cannot be read, as of the last poll (a folder where a
    /// file should be, no permission to read); empty when every one is read.
    public private(set) var problems: [String] = []

    private final class State {
        var position: FilePosition
        var fd: Int32 = -1
        /// Where to resume looking for the end of an over-long line.
        var scanFrom: Int64 = 0
        init(_ position: FilePosition) { self.position = position }
        deinit { if fd >= 0 { close(fd) } }
    }

    /// A file that matches the pattern now, open for the poll: what is read of it (its first
    /// line, the line at an offset) is read through this descriptor, never through the path,
    /// which a rotation may give to another file meanwhile.
    private struct Listed {
        var path: String
        var fd: Int32
        var inode: UInt64
        var size: Int64
        var mtime: Int
        var firstLineHash: String
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
        scanning = false
        var lines: [TailedLine] = []
        let listed = list()
        defer { for file in listed { close(file.fd) } }
        let matched = identify(listed)
        // Oldest first: rotated generations before the live file.
        for (file, state) in matched.sorted(by: { ($0.0.mtime, $0.0.path) < ($1.0.mtime, $1.0.path) }) {
            if state.fd < 0 || state.position.inode != file.inode {
                if state.fd >= 0 { close(state.fd) }
                // The descriptor the file was listed through: the file identified, whatever
                // the path shows now.
                state.fd = dup(file.fd)
                _ = fcntl(state.fd, F_SETFD, FD_CLOEXEC)
                state.position.inode = file.inode
            }
            state.position.path = file.path
            guard state.fd >= 0 else { continue }
            readVerified(state, into: &lines, limit: maxLines)
            if lines.count >= maxLines { return lines }
        }
        // Drain files that left the pattern (renamed away, deleted) through their open descriptor.
        let reading = Set(matched.map { ObjectIdentifier($0.1) })
        for state in states.values.sorted(by: { $0.position.fingerprint < $1.position.fingerprint })
        where !reading.contains(ObjectIdentifier(state)) && state.fd >= 0 {
            readVerified(state, into: &lines, limit: maxLines)
            if lines.count >= maxLines { return lines }
            close(state.fd)
            state.fd = -1
        }
        return lines
    }

    /// Regular files matching the pattern whose first line is complete; what cannot be read
    /// goes to ``problems``.
    private func list() -> [Listed] {
        var problems: [String] = []
        let listed: [Listed] = Self.glob(pattern).compactMap { path in
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                if (st.st_mode & S_IFMT) == S_IFDIR { problems.append("\(path) is a folder, not a log file") }
                return nil
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                problems.append("\(path) cannot be read: \(String(cString: strerror(errno)))")
                return nil
            }
            // Inode, size and first line of the file opened, not of whatever the path names later.
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let fp = Self.fingerprint(fd: fd) else {
                close(fd)
                return nil
            }
            return Listed(
                path: path, fd: fd, inode: UInt64(st.st_ino), size: Int64(st.st_size), mtime: Int(st.st_mtim.tv_sec),
                firstLineHash: fp)
        }
        self.problems = problems
        return listed
    }

    /// Which known position each listed file continues, or a new one.
    ///
    /// 1. The state of the same inode, when the file still starts with the same first line. A
    ///    file shorter than what was read of it, or without the line that ended the reading,
    ///    was truncated and refilled: if another file continues its lines (below), it is a
    ///    new file; else it starts over.
    /// 2. A state no listed file holds any more (renamed away, truncated after a copy, moved
    ///    while slad was down) with the same first line: when this file holds the line that
    ///    ended its reading at its offset, it continues there.
    /// 3. A copy of a file still being read, whole or still being written (the moments of
    ///    copytruncate's copy, before its truncation): left alone this time; once the original
    ///    is truncated, rule 2 applies.
    /// 4. Otherwise a new file from its start, under the first-line hash, or that hash with
    ///    `~N` when a file with another content has it.
    private func identify(_ listed: [Listed]) -> [(Listed, State)] {
        var matched: [(Listed, State)] = []
        var held = Set<ObjectIdentifier>()
        var rest: [Listed] = []
        var truncated: [(Listed, State)] = []
        let byInode = Dictionary(
            states.values.map { ($0.position.inode, $0) }, uniquingKeysWith: { a, b in a.fd >= 0 ? a : b })
        for file in listed {
            guard let state = byInode[file.inode], state.position.firstLineHash == file.firstLineHash,
                !held.contains(ObjectIdentifier(state))
            else {
                rest.append(file)
                continue
            }
            held.insert(ObjectIdentifier(state))
            if file.size < state.position.offset || !stillHolds(state.position, file) {
                truncated.append((file, state))
            } else {
                matched.append((file, state))
            }
        }
        let listedSizes = Dictionary(
            matched.map { (ObjectIdentifier($0.1), $0.0.size) }, uniquingKeysWith: { a, _ in a })
        // A truncated file's lines may continue in a copy (copytruncate): the copy takes the
        // position, and the truncated file is a new one (below).
        let truncatedStates = Set(truncated.map { ObjectIdentifier($0.1) })
        for file in rest {
            let candidates = states.values.filter {
                $0.position.firstLineHash == file.firstLineHash
                    && (!held.contains(ObjectIdentifier($0)) || truncatedStates.contains(ObjectIdentifier($0)))
            }.sorted { $0.position.fingerprint < $1.position.fingerprint }
            if let state = candidates.first(where: { continues($0.position, in: file) }) {
                held.insert(ObjectIdentifier(state))
                matched.append((file, state))
                continue
            }
            let copyOfLive = states.values.contains {
                held.contains(ObjectIdentifier($0)) && !truncatedStates.contains(ObjectIdentifier($0))
                    && $0.position.firstLineHash == file.firstLineHash
                    && Self.isCopy(file, of: $0, listedSize: listedSizes[ObjectIdentifier($0)])
            }
            if copyOfLive { continue }
            matched.append((file, newState(for: file.firstLineHash, path: file.path, inode: file.inode)))
        }
        // A truncated file is read anew under a new identity. Its old position stays with its
        // state, for the copy that took it above or for one a later poll finds: the truncation
        // may have come after this poll listed the files, and copytruncate's copy with it.
        for (file, _) in truncated {
            matched.append((file, newState(for: file.firstLineHash, path: file.path, inode: file.inode)))
        }
        return matched
    }

    /// Whether the file of `position` still holds the line that ended its reading (not known
    /// for a position saved before lines were hashed: then it is taken to).
    private func stillHolds(_ position: FilePosition, _ file: Listed) -> Bool {
        guard position.offset > 0, position.tail != nil else { return true }
        return continues(position, in: file)
    }

    /// Whether `file` holds what was read at `position`: nothing yet, or the same line ending at
    /// its offset.
    private func continues(_ position: FilePosition, in file: Listed) -> Bool {
        guard position.offset > 0 else { return true }
        guard file.size >= position.offset, let tail = position.tail else { return false }
        return Self.tailHash(fd: file.fd, offset: position.offset) == tail
    }

    /// Whether `file` holds the same bytes as the file of `state` so far: its first and last
    /// 4 KiB are the same bytes at the same offsets there (a copy being made, or made).
    ///
    /// Also true when that file was truncated since this poll listed it: shorter than its
    /// `listedSize`, or no longer starting with the line it is known by (truncated and refilled).
    /// That happens right after copytruncate made this copy, and the original's bytes tell
    /// nothing about it then. The copy is left for the next poll, which finds the truncation
    /// and lets the copy continue the position (rule 2 of ``identify(_:)``); read as a new file
    /// now, it would give again the lines already read from the original.
    private static func isCopy(_ file: Listed, of state: State, listedSize: Int64?) -> Bool {
        let copy = file.fd
        let original = state.fd >= 0 ? state.fd : open(state.position.path, O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { return false }
        defer { if original != state.fd { close(original) } }
        var st = stat()
        guard fstat(original, &st) == 0 else { return false }
        if let listedSize, Int64(st.st_size) < listedSize { return true }
        if fingerprint(fd: original).map({ $0[...] }) != state.position.firstLineHash { return true }
        guard Int64(st.st_size) >= file.size else { return false }
        func same(at offset: Int64, count: Int) -> Bool {
            guard count > 0 else { return true }
            var a = [UInt8](repeating: 0, count: count)
            var b = [UInt8](repeating: 1, count: count)
            let n = a.withUnsafeMutableBytes { pread(copy, $0.baseAddress, count, off_t(offset)) }
            let m = b.withUnsafeMutableBytes { pread(original, $0.baseAddress, count, off_t(offset)) }
            return n == count && m == count && a == b
        }
        let head = Int(min(file.size, 4096))
        let tailStart = max(Int64(head), file.size - 4096)
        return same(at: 0, count: head) && same(at: tailStart, count: Int(file.size - tailStart))
    }

    /// A new state for a file whose first line hashes to `hash`: identity `hash`, or `hash~N`.
    private func newState(for hash: String, path: String, inode: UInt64) -> State {
        var identity = hash
        var n = 2
        while states[identity] != nil {
            identity = "\(hash)~\(n)"
            n += 1
        }
        let state = State(FilePosition(fingerprint: identity, path: path, inode: inode, offset: 0, line: 0))
        states[identity] = state
        return state
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
        if Self.fingerprint(fd: state.fd).map({ $0[...] }) != state.position.firstLineHash {
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
            if progressed { state.position.tail = Self.tailHash(fd: state.fd, offset: state.position.offset) }
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
        let stop = at + Self.scanBudget
        while true {
            // A line of gigabytes (a sparse region, a file of zeros) is searched a slice per poll,
            // so that the loop polling it stays free for its other work.
            guard at < stop else {
                state.scanFrom = at
                scanning = true
                return
            }
            let n = probe.withUnsafeMutableBytes { pread(state.fd, $0.baseAddress, probeSize, off_t(at)) }
            guard n > 0 else {
                state.scanFrom = at
                return
            }
            let newline = probe.withUnsafeBytes { raw in
                memchr(raw.baseAddress!, 0x0A, n).map { raw.baseAddress!.distance(to: $0) }
            }
            if let nl = newline {
                state.position.line += 1
                lines.append(
                    TailedLine(
                        fingerprint: state.position.fingerprint, path: state.position.path,
                        offset: state.position.offset,
                        number: state.position.line, bytes: head.prefix(max(0, got)), tooLong: true))
                state.position.offset = at + Int64(nl) + 1
                state.position.tail = Self.tailHash(fd: state.fd, offset: state.position.offset)
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

    /// The hash of the line that ends at `offset` (its last 4 KiB when longer), nil when
    /// `offset` is not just after a newline.
    static func tailHash(fd: Int32, offset: Int64) -> UInt64? {
        guard offset > 0 else { return nil }
        let start = max(0, offset - 4096)
        let count = Int(offset - start)
        var window = [UInt8](repeating: 0, count: count)
        let n = window.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(start)) }
        guard n == count, window[count - 1] == 0x0A else { return nil }
        let from = window[0..<(count - 1)].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in window[from..<(count - 1)] {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
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
