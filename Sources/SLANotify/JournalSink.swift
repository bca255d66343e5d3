import CSystemd
import SLACore

#if canImport(Glibc)
import Glibc
#endif

/// Why the journal did not take an entry.
public struct JournalError: Error, CustomStringConvertible, Sendable {
    /// The errno `sd_journal_sendv` returned.
    public var code: Int32

    /// What failed and why, e.g. "journal: No such file or directory (is systemd-journald running?)".
    public var description: String {
        let reason = String(cString: strerror(code))
        return code == ENOENT || code == ECONNREFUSED
            ? "journal: \(reason) (is systemd-journald running?)" : "journal: \(reason)"
    }
}

/// Writes structured entries to the systemd journal with `sd_journal_sendv`
/// (`sd_journal_send` is C-variadic, which Swift cannot call).
public struct JournalSink: Sendable {
    /// A sink for the journal socket of this machine (or of the namespace slad runs in).
    public init() {}

    /// Sends one entry; each field is `NAME=value`, values may hold newlines.
    public func send(_ fields: [(String, String)]) throws(JournalError) {
        let buffers = fields.map { Array("\($0.0)=\($0.1)".utf8) }
        let rc = Self.sendv(buffers)
        if rc < 0 { throw JournalError(code: -rc) }
    }

    /// Sends the entry for a notification (fields: ``NotificationText/journalFields(_:)``).
    public func send(_ notification: SLANotification) throws(JournalError) {
        try send(NotificationText.journalFields(notification))
    }

    private static func sendv(_ buffers: [[UInt8]]) -> Int32 {
        var vectors = [iovec](repeating: iovec(), count: buffers.count)
        return withPinned(buffers, 0, &vectors)
    }

    /// Pins every buffer's storage for the duration of the call (no copies into C memory).
    private static func withPinned(_ buffers: [[UInt8]], _ i: Int, _ vectors: inout [iovec]) -> Int32 {
        if i == buffers.count {
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        return buffers[i].withUnsafeBytes { raw in
            vectors[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count)
            return withPinned(buffers, i + 1, &vectors)
        }
    }
}
