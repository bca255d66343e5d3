import Foundation
import SLACore

/// A line that could not be turned into an event.
public struct LineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The source name or file.
    public var source: String
    /// The 1-based line number.
    public var line: Int
    /// The field at fault, when one is.
    public var field: String?
    /// What is wrong.
    public var reason: String

    /// `source:line: field: reason`.
    public var description: String {
        "\(source):\(line): " + (field.map { "\($0): " } ?? "") + reason
    }
}

/// Decodes slad's native JSON Lines events (DESIGN.md §4).
///
/// This is the straightforward Foundation decoder; the fast decoder of the
/// ingest issue replaces it behind the same interface.
public struct JSONLEventDecoder: Sendable {
    /// Zone for timestamps written without an offset.
    public var defaultZone: ZoneRules
    /// The source name, used in errors and content identities.
    public var source: String

    /// Creates a decoder for one source.
    public init(source: String, defaultZone: ZoneRules = .utc) {
        self.source = source
        self.defaultZone = defaultZone
    }

    private struct Wire: Decodable {
        var id: String?
        var time: String?
        var type: String?
        var incident: String?
        var contract: String?
        var service: String?
        var priority: String?
        var status: String?
        var assignee: String?
        var team: String?
        var level: String?
        var due: String?
        var promise: String?
    }

    /// Decodes one line (without its newline); `number` is 1-based.
    public func decode(line: Substring, number: Int) -> Result<SLAEvent, LineError> {
        func fail(_ field: String?, _ reason: String) -> Result<SLAEvent, LineError> {
            .failure(LineError(source: source, line: number, field: field, reason: reason))
        }
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(line.utf8))
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            return fail(context.codingPath.last?.stringValue, "expected a string")
        } catch {
            return fail(nil, "not a JSON object")
        }
        guard let typeText = wire.type else { return fail("type", "missing") }
        guard let type = EventType(rawValue: typeText) else { return fail("type", "unknown event type '\(typeText)'") }
        guard let timeText = wire.time else { return fail("time", "missing") }
        guard let time = ISO8601.parse(timeText) else { return fail("time", "'\(timeText)' is not an ISO 8601 time") }
        var due: Instant?
        if let d = wire.due {
            guard let parsed = ISO8601.parse(d) else { return fail("due", "'\(d)' is not an ISO 8601 time") }
            due = parsed.instant(in: defaultZone)
        }
        let id = wire.id ?? "\(source):" + contentHash(line)
        return .success(
            SLAEvent(
                id: id, time: time.instant(in: defaultZone), type: type, incident: wire.incident,
                contract: wire.contract,
                service: wire.service, priority: wire.priority, status: wire.status, assignee: wire.assignee,
                team: wire.team, level: wire.level, due: due, promise: wire.promise))
    }

    /// Decodes a whole file's text; blank lines are skipped.
    ///
    /// Lines are split on the byte 0x0A, not on `Character`s: Swift treats
    /// `\r\n` as one character, and a CRLF file must not become one long line.
    public func decodeAll(_ text: String) -> (events: [SLAEvent], errors: [LineError]) {
        var events: [SLAEvent] = []
        var errors: [LineError] = []
        let bytes = Array(text.utf8)
        var start = 0
        var number = 0
        while start <= bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            number += 1
            var stop = end
            if stop > start, bytes[stop - 1] == 0x0D { stop -= 1 }
            let slice = bytes[start..<stop]
            if !slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                let line = Substring(String(decoding: slice, as: UTF8.self))
                switch decode(line: line, number: number) {
                case .success(let e): events.append(e)
                case .failure(let e): errors.append(e)
                }
            }
            start = end + 1
        }
        return (events, errors)
    }
}

/// FNV-1a 64 of the line: a stable identity for events that carry no id.
func contentHash(_ line: Substring) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in line.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return String(h, radix: 16)
}
