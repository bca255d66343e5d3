import CSystemd
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler that writes slad's own log records to the journal
/// natively: the message as `MESSAGE`, the level as `PRIORITY`, every metadata
/// key as a field (`source` → `SLAD_SOURCE`), so `journalctl SLAD_SOURCE=…` works.
public struct JournalLogHandler: LogHandler {
    /// Records below this level are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every record of this logger.
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink = JournalSink()

    /// A handler for the logger named `label`.
    public init(label: String) { self.label = label }

    /// Whether stderr is connected to the journal: systemd sets `JOURNAL_STREAM`
    /// to the device and inode of that stream, so a redirected stderr does not count.
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    /// Metadata access by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one record; if the journal refuses it, falls back to stderr so nothing is lost.
    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        // MESSAGE is what `journalctl -u slad` shows: it carries the metadata too (the reason
        // a reload was rejected, the sink that failed), as on stderr; the fields stay for queries.
        var fields: [(String, String)] = [
            ("MESSAGE", LineLogHandler.line(event.message, merged)),
            ("PRIORITY", String(Self.priority(event.level))),
            ("SYSLOG_IDENTIFIER", "slad"),
            ("SLAD_LOGGER", label),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
        ]
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append(("SLAD_" + Self.fieldName(key), value.description))
        }
        do {
            try sink.send(fields)
        } catch {
            var line = LineLogHandler()
            line.metadata = metadata
            line.log(event: event)
        }
    }

    /// swift-log levels as syslog priorities.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Journal field names are upper-case letters, digits and `_`.
    static func fieldName(_ key: String) -> String {
        String(
            key.uppercased().map { c -> Character in
                c.isASCII && (c.isLetter || c.isNumber) ? c : "_"
            })
    }
}

/// The handler used when stderr is not the journal: one line per record,
/// `message key=value …` with keys sorted, so logs grep and diff well.
public struct LineLogHandler: LogHandler {
    /// Records below this level are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every record of this logger.
    public var metadata: Logger.Metadata = [:]

    /// A handler writing to stderr.
    public init() {}

    /// Metadata access by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line to stderr.
    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        writeStandardError(Self.line(event.message, merged) + "\n")
    }

    /// The message followed by its metadata as `key=value`, sorted by key.
    static func line(_ message: Logger.Message, _ metadata: Logger.Metadata) -> String {
        let data = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return data.isEmpty ? message.description : "\(message) \(data)"
    }
}

/// One `write(2)` per record: lines from several threads never interleave mid-line.
func writeStandardError(_ line: String) {
    var text = line
    text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}
