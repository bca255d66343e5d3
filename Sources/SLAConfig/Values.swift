import Crypto
import Foundation
import SLACore
import Synchronization

extension YAMLValue {
    /// A duration such as `15m`, `4h`, `1d`, `1h30m`.
    func duration() -> BusinessDuration? {
        guard let text = string("a duration") else { return nil }
        if let d = BusinessDuration(parsing: text) { return d }
        let compact = text.replacingOccurrences(of: " ", with: "").lowercased()
        let guess = [
            ("minutes", "m"), ("minute", "m"), ("mins", "m"), ("min", "m"), ("hours", "h"), ("hour", "h"),
            ("hrs", "h"), ("days", "d"), ("day", "d"), ("seconds", "s"), ("sec", "s"),
        ]
        .reduce(compact) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
        let hint =
            BusinessDuration(parsing: guess).map { "write \($0)" }
            ?? "write a number and a unit (d, h, m, s), e.g. 15m, 4h, 1d, 1h30m"
        fail("'\(text)' is not a duration", hint: hint)
        return nil
    }

    /// A percentage such as `99.9%`.
    func percentage() -> Percentage? {
        guard let text = string("a percentage") else { return nil }
        if let p = Percentage(parsing: text) { return p }
        let hint = Percentage(parsing: text + "%") != nil ? "write \(text)%" : "write e.g. 99.9% (at most 4 decimals)"
        fail("'\(text)' is not a percentage", hint: hint)
        return nil
    }

    /// An amount in `currency`, written as decimal text.
    func money(_ currency: Currency?) -> Money? {
        guard let text = string("an amount") else { return nil }
        guard let currency else { return nil }
        if let m = Money(parsing: text, currency: currency) { return m }
        let digits = currency.minorDigits
        let example = digits == 0 ? "1000" : "1000." + String(repeating: "0", count: digits)
        fail(
            "'\(text)' is not an amount in \(currency.code)",
            hint: "write digits with at most \(digits) decimals and no separators, e.g. \"\(example)\"")
        return nil
    }

    /// A date `YYYY-MM-DD`.
    func date() -> LocalDate? {
        guard let text = string("a date") else { return nil }
        if let d = LocalDate(parsing: text) { return d }
        fail("'\(text)' is not a date", hint: "write YYYY-MM-DD, e.g. 2026-01-01")
        return nil
    }

    /// An RFC 3339 time with its offset (`2026-12-20T02:00:00+01:00`, or `Z`).
    func instantWithOffset() -> Instant? {
        guard let text = string("a time") else { return nil }
        if let p = ISO8601.parse(text), p.offset != nil { return p.instant(in: .utc) }
        fail("'\(text)' is not a time with an offset", hint: "e.g. 2026-12-20T02:00:00+01:00")
        return nil
    }

    /// `true` or `false`.
    func bool() -> Bool? {
        guard let text = string("true or false") else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            fail("'\(text)' is not true or false")
            return nil
        }
    }

    /// An IANA time zone name.
    func timeZone() -> ZoneRules? {
        guard let text = string("a time zone") else { return nil }
        if let z = ZoneCache.rules(for: text) { return z }
        let known = TimeZone.knownTimeZoneIdentifiers
        let suggestion = closest(to: text, in: known) ?? known.first { $0.hasSuffix("/" + text) }
        fail(
            "'\(text)' is not an IANA time zone", hint: suggestion.map { "did you mean \($0)?" } ?? "e.g. Europe/Moscow"
        )
        return nil
    }

    /// An identifier: letters, digits, `-`, `_`, `.`.
    func identifier(_ what: String = "an identifier") -> String? {
        guard let text = string(what) else { return nil }
        let ok =
            !text.isEmpty && text.count <= 128
            && text.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)
            }
        if ok { return text }
        fail("'\(text)' is not a valid identifier", hint: "use letters, digits, '-', '_' and '.'")
        return nil
    }
}

extension Character {
    /// A line end of a text file: LF, or CRLF (one Character in Swift), or a lone CR.
    var isLineEnd: Bool { self == "\n" || self == "\r\n" || self == "\r" }
}

/// The first `limit` bytes of the file at `path` (all of a shorter one); nil when it cannot be
/// opened or read (a missing file, a folder). Read through a file handle: Foundation's
/// `FileManager.contents(atPath:)` reads a whole file of any size, and leaks its buffer when
/// the file is empty (found by the iCalendar fuzz target).
func readFile(_ path: String, limit: Int) -> Data? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    do {
        let data = try handle.read(upToCount: limit) ?? Data()
        FilesRead.current?.add(path, data)
        return data
    } catch {
        return nil
    }
}

/// The files a configuration load read, for its ``SladConfiguration/fingerprint``: every file
/// goes through ``readFile(_:limit:)``, wherever it lies (an iCalendar file may be anywhere).
/// Its path counts too: inside the configuration folder, relative to it.
final class FilesRead: Sendable {
    @TaskLocal static var current: FilesRead?
    private let files = Mutex<[String: Data]>([:])
    /// The configuration folder: files in it count by their path inside it, so that the same
    /// files elsewhere (another node's folder) are the same configuration.
    private let directory: String

    init(directory: String) {
        self.directory = directory.hasSuffix("/") ? directory : directory + "/"
    }

    func add(_ path: String, _ data: Data) {
        let key = path.hasPrefix(directory) ? String(path.dropFirst(directory.count)) : path
        files.withLock { $0[key] = data }
    }

    func fingerprint() -> String {
        var hash = SHA256()
        for (path, data) in files.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            hash.update(data: Data(path.utf8))
            hash.update(data: Data("\0\(data.count)\0".utf8))
            hash.update(data: data)
        }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
