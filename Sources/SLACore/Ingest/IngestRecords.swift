/// Where reading of one file of a source stands.
public struct SourceOffset: Sendable, Hashable {
    /// The configured source.
    public var source: String
    /// Identity of the file (the tailer's): the hash of its first line, with `~N` for a later
    /// file that shares it.
    public var fingerprint: String
    /// Where the file was last seen.
    public var path: String
    /// Its inode when last seen.
    public var inode: UInt64
    /// Bytes consumed (always at a line boundary).
    public var offset: Int64
    /// Lines consumed.
    public var line: Int
    /// The hash of the last line consumed, which a file found under another inode must hold
    /// at `offset` to continue here; nil before the first line (and in stores from before it).
    public var tail: UInt64?

    /// Creates an offset record.
    public init(
        source: String, fingerprint: String, path: String, inode: UInt64, offset: Int64, line: Int, tail: UInt64? = nil
    ) {
        self.source = source
        self.fingerprint = fingerprint
        self.path = path
        self.inode = inode
        self.offset = offset
        self.line = line
        self.tail = tail
    }
}

/// A line that was not turned into an event, kept with where it came from.
public struct QuarantineRecord: Sendable, Hashable {
    /// The configured source.
    public var source: String
    /// The file's fingerprint.
    public var fingerprint: String
    /// Byte offset of the line in the file.
    public var offset: Int64
    /// 1-based line number in the file.
    public var line: Int
    /// The field at fault, when one is.
    public var field: String?
    /// Why.
    public var reason: String
    /// The line itself, cut at 1 KiB.
    public var raw: String

    /// Creates a record; `raw` is cut to 1 KiB.
    public init(
        source: String, fingerprint: String, offset: Int64, line: Int, field: String?, reason: String, raw: String
    ) {
        self.source = source
        self.fingerprint = fingerprint
        self.offset = offset
        self.line = line
        self.field = field
        self.reason = reason
        self.raw = raw.utf8.count > 1024 ? String(decoding: raw.utf8.prefix(1024), as: UTF8.self) : raw
    }
}

/// Counters of one source.
public struct SourceStats: Sendable, Hashable {
    /// Lines read.
    public var lines = 0
    /// Events new to the ledger.
    public var events = 0
    /// Events whose identity was already in the ledger, with the same content.
    public var duplicates = 0
    /// Events whose identity was already in the ledger with other content: the first stands,
    /// these are not applied (a source reusing ids is misconfigured or replaying altered data).
    public var conflicts = 0
    /// Lines quarantined.
    public var quarantined = 0

    /// Zero counters.
    public init() {}
}
