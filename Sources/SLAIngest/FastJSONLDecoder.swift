import SLACore

/// Decodes slad's native JSON Lines events (DESIGN.md §4) straight from bytes.
///
/// Event decoding is the ingest hot path: this scanner reads one object per
/// line without building a JSON tree or going through `Codable`, allocating
/// only the strings it keeps. Unknown keys are skipped whatever their value.
/// It agrees with ``ReferenceJSONLDecoder`` on every line (tested).
public struct JSONLEventDecoder: Sendable {
    /// Zone for timestamps written without an offset.
    public var defaultZone: ZoneRules
    /// The source name, used in errors and content identities.
    public var source: String
    /// slad.yaml's policies, which pick the contract of an opening that names none.
    public var policies: PolicyBook

    /// Creates a decoder for one source.
    public init(source: String, defaultZone: ZoneRules = .utc, policies: PolicyBook = PolicyBook()) {
        self.source = source
        self.defaultZone = defaultZone
        self.policies = policies
    }

    /// Decodes one line (without its newline); `number` is 1-based.
    public func decode(line: Substring, number: Int) -> Result<SLAEvent, LineError> {
        var copy = String(line)
        return copy.withUTF8 { decode(bytes: UnsafeRawBufferPointer($0), number: number) }
    }

    /// Decodes one line of raw bytes (without its newline).
    public func decode(bytes: UnsafeRawBufferPointer, number: Int) -> Result<SLAEvent, LineError> {
        var scanner = Scanner(bytes: bytes)
        var fields = RawFields()
        if let problem = scanner.object(into: &fields) {
            return .failure(LineError(source: source, line: number, field: problem.field, reason: problem.reason))
        }
        // Consumed: otherwise the call gets a copy of every text, and the original is released.
        let decoded = (consume fields).event(source: source, line: number, zone: defaultZone) { contentHash(bytes) }
        guard !policies.isEmpty, case .success(let event) = decoded else { return decoded }
        return policies.apply(to: event, line: bytes, source: source, number: number)
    }

    /// Decodes a whole file's text; blank lines are skipped. Lines split on byte 0x0A (CRLF tolerated).
    public func decodeAll(_ text: String) -> (events: [SLAEvent], errors: [LineError]) {
        var copy = text
        return copy.withUTF8 { decodeAll(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// ``decodeAll(_:)`` of raw bytes, in `parts` runs of whole lines decoded side by side, each
    /// on a thread of its own; the events and errors come in line order, as from one run.
    public func decodeAll(bytes all: UnsafeRawBufferPointer, parts: Int = 1) -> (
        events: [SLAEvent], errors: [LineError]
    ) {
        // Each run starts after a newline (or at 0) and ends after one (or at the end).
        let parts = max(1, min(parts, all.count / 65_536))
        var bounds = [0]
        for p in 1..<parts {
            var at = max(all.count * p / parts, bounds[p - 1])
            while at < all.count, all[at] != 0x0A { at += 1 }
            bounds.append(min(at + 1, all.count))
        }
        bounds.append(all.count)
        // A run's first line number: one past the newlines before it, counted run by run. A run
        // makes at most one event per line (the last run: one more, after the last newline), so
        // each decodes into its own stretch of one array, and the stretches are closed up after:
        // joining arrays of the runs' events would copy half of them.
        let newlines = Parallel.map(parts, parts: parts) { p in
            UnsafeRawBufferPointer(rebasing: all[bounds[p]..<bounds[p + 1]]).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        var offsets = [0]
        for p in 0..<parts { offsets.append(offsets[p] + newlines[p] + (p == parts - 1 ? 1 : 0)) }
        var errors: [[LineError]] = []
        let events = [SLAEvent](unsafeUninitializedCapacity: offsets[parts]) { buffer, initialized in
            // Safe to share: each run initializes only its own stretch of the buffer.
            nonisolated(unsafe) let base = buffer.baseAddress!
            let runs = Parallel.map(parts, parts: parts) { p in
                decodeRun(
                    all, from: bounds[p], to: bounds[p + 1], firstLine: offsets[p] + 1, isLast: p == parts - 1,
                    into: base + offsets[p])
            }
            var end = runs[0].made
            for p in 1..<parts {
                if offsets[p] != end { (base + end).moveInitialize(from: base + offsets[p], count: runs[p].made) }
                end += runs[p].made
            }
            initialized = end
            errors = runs.map(\.errors)
        }
        return (events, errors.flatMap { $0 })
    }

    /// Decodes the lines of `all[from..<to]`, numbered from `firstLine`, into `out`; the last
    /// run also decodes what follows the file's last newline. Returns how many events it made.
    private func decodeRun(
        _ all: UnsafeRawBufferPointer, from: Int, to: Int, firstLine: Int, isLast: Bool,
        into out: UnsafeMutablePointer<SLAEvent>
    ) -> (made: Int, errors: [LineError]) {
        var made = 0
        var errors: [LineError] = []
        var start = from
        var number = firstLine - 1
        while start < to || (isLast && start == to) {
            var end = start
            while end < to, all[end] != 0x0A { end += 1 }
            number += 1
            var stop = end
            if stop > start, all[stop - 1] == 0x0D { stop -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: all[start..<stop])
            if line.contains(where: { $0 != 0x20 && $0 != 0x09 }) {
                switch decode(bytes: line, number: number) {
                case .success(let e):
                    (out + made).initialize(to: e)
                    made += 1
                case .failure(let e): errors.append(e)
                }
            }
            start = end + 1
        }
        return (made, errors)
    }
}

/// The string fields an event may carry (decoded by the fast scanner, or by
/// `Codable` in the reference decoder).
struct RawFields: Decodable {
    enum CodingKeys: String, CodingKey {
        case id, time, type, incident, contract, service, priority, status, assignee, team, level, due, promise
    }

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
    /// `time` and `type` as the fast scanner reads them: straight from the line's bytes, so
    /// the two fields every event has never become strings (`time` needs a heap string).
    /// The text fields above hold them only when they did not parse (for the error) or came
    /// through `Codable`.
    var parsedTime: ISO8601.Parsed?
    var parsedType: EventType?

    /// The event these fields describe, or the first field that is missing or malformed.
    /// `hash` gives the content identity of a line without an `id`.
    consuming func event(source: String, line: Int, zone: ZoneRules, hash: () -> String) -> Result<SLAEvent, LineError>
    {
        func fail(_ field: String, _ reason: String) -> Result<SLAEvent, LineError> {
            .failure(LineError(source: source, line: line, field: field, reason: reason))
        }
        let eventType: EventType
        if let parsedType {
            eventType = parsedType
        } else {
            guard let typeText = type else { return fail("type", "missing") }
            guard let known = EventType(rawValue: typeText) else {
                return fail("type", "unknown event type '\(typeText)'")
            }
            eventType = known
        }
        let parsedTime: ISO8601.Parsed
        if let early = self.parsedTime {
            parsedTime = early
        } else {
            guard let timeText = time else { return fail("time", "missing") }
            guard let parsed = ISO8601.parse(timeText) else {
                return fail("time", "'\(timeText)' is not an ISO 8601 time")
            }
            parsedTime = parsed
        }
        var dueInstant: Instant?
        if let d = due {
            guard let parsed = ISO8601.parse(d) else { return fail("due", "'\(d)' is not an ISO 8601 time") }
            dueInstant = parsed.deadline(in: zone)
        }
        // The texts are moved out (`take()`), not copied: a copy retained each one and the
        // fields' end released it again, for every field of every line.
        return .success(
            SLAEvent(
                id: id.take() ?? "\(source):" + hash(), time: parsedTime.instant(in: zone), type: eventType,
                incident: incident.take(), contract: contract.take(), service: service.take(),
                priority: priority.take(), status: status.take(), assignee: assignee.take(), team: team.take(),
                level: level.take(), due: dueInstant, promise: promise.take(), fractional: parsedTime.fractional))
    }

    /// Keys already seen, one bit per known field: a repeated key is ambiguous, so it is an error.
    var seen: UInt16 = 0

    /// What storing a key did.
    enum Store { case stored, unknown, duplicate }

    /// The bit of a known field's key, nil for any other key.
    ///
    /// Keys are matched as little-endian packed integers (every known key has at
    /// most 8 bytes): one load and one switch instead of byte-wise comparisons.
    static func bit(_ key: UnsafeRawBufferPointer) -> UInt16? {
        guard key.count <= 8 else { return nil }
        var packed: UInt64 = 0
        for (i, b) in key.enumerated() { packed |= UInt64(b) << (8 * UInt64(i)) }
        switch packed {
        case 0x0000000000006469: return 1 << 0  // "id"
        case 0x0000000000657564: return 1 << 1  // "due"
        case 0x00000000656D6974: return timeBit  // "time"
        case 0x0000000065707974: return typeBit  // "type"
        case 0x000000006D616574: return 1 << 4  // "team"
        case 0x0000006C6576656C: return 1 << 5  // "level"
        case 0x0000737574617473: return 1 << 6  // "status"
        case 0x0065636976726573: return 1 << 7  // "service"
        case 0x006573696D6F7270: return 1 << 8  // "promise"
        case 0x746E656469636E69: return 1 << 9  // "incident"
        case 0x74636172746E6F63: return 1 << 10  // "contract"
        case 0x797469726F697270: return 1 << 11  // "priority"
        case 0x65656E6769737361: return 1 << 12  // "assignee"
        default: return nil
        }
    }

    static let timeBit: UInt16 = 1 << 2
    static let typeBit: UInt16 = 1 << 3

    /// Stores `value` (nil for JSON null) under `key` when it is a known field.
    mutating func set(_ key: UnsafeRawBufferPointer, _ value: String?) -> Store {
        guard let bit = Self.bit(key) else { return .unknown }
        guard seen & bit == 0 else { return .duplicate }
        seen |= bit
        assign(bit, value)
        return .stored
    }

    /// Stores a string value read without escapes (`bytes`, valid UTF-8) under `key`: a
    /// time or type that parses is kept parsed, anything else as a string; unknown keys
    /// make no string at all.
    mutating func set(_ key: UnsafeRawBufferPointer, plain bytes: UnsafeRawBufferPointer) -> Store {
        guard let bit = Self.bit(key) else { return .unknown }
        guard seen & bit == 0 else { return .duplicate }
        seen |= bit
        if bit == Self.timeBit, let parsed = ISO8601.parse(utf8: bytes) {
            parsedTime = parsed
        } else if bit == Self.typeBit, let known = EventType(utf8: bytes) {
            parsedType = known
        } else {
            assign(bit, String(decoding: bytes, as: UTF8.self))
        }
        return .stored
    }

    private mutating func assign(_ bit: UInt16, _ value: String?) {
        switch bit {
        case 1 << 0: id = value
        case 1 << 1: due = value
        case 1 << 2: time = value
        case 1 << 3: type = value
        case 1 << 4: team = value
        case 1 << 5: level = value
        case 1 << 6: status = value
        case 1 << 7: service = value
        case 1 << 8: promise = value
        case 1 << 9: incident = value
        case 1 << 10: contract = value
        case 1 << 11: priority = value
        default: assignee = value
        }
    }
}

/// A minimal RFC 8259 scanner for one object per line.
struct Scanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0

    struct Problem {
        var field: String?
        var reason: String
    }

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
    }

    /// Reads `{ "key": value, … }` filling `fields`; nil on success.
    mutating func object(into fields: inout RawFields) -> Problem? {
        let notObject = Problem(field: nil, reason: "not a JSON object")
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return notObject }
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return trailing() ? nil : notObject
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return notObject }
            let keyStart = i + 1
            guard let keyEnd = skipString() else { return notObject }
            let rawKey = UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyEnd])
            var escapedKey: [UInt8]?
            if rawKey.contains(UInt8(ascii: "\\")) {
                // "pri\u006frity" is the key "priority" to JSON: decode escaped keys before matching.
                var keyScanner = Scanner(bytes: bytes)
                keyScanner.i = keyStart - 1
                guard let decoded = keyScanner.string() else { return notObject }
                escapedKey = Array(decoded.utf8)
            }
            func store(_ value: String?) -> RawFields.Store {
                guard let escapedKey else { return fields.set(rawKey, value) }
                return escapedKey.withUnsafeBytes { fields.set($0, value) }
            }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return notObject }
            i += 1
            skipSpace()
            guard i < bytes.count else { return notObject }
            let keyName = {
                escapedKey.map { String(decoding: $0, as: UTF8.self) } ?? String(decoding: rawKey, as: UTF8.self)
            }
            var outcome: RawFields.Store
            if bytes[i] == UInt8(ascii: "\""), escapedKey == nil, let plain = plainString() {
                outcome = fields.set(rawKey, plain: plain)
            } else if bytes[i] == UInt8(ascii: "\"") {
                guard let value = string() else { return notObject }
                outcome = store(value)
            } else if bytes[i] == UInt8(ascii: "n"), matches("null") {
                i += 4
                outcome = store(nil)
            } else {
                guard skipValue(depth: 0) else { return notObject }
                outcome = store(nil)
                if outcome == .stored { return Problem(field: keyName(), reason: "expected a string") }
            }
            if outcome == .duplicate { return Problem(field: keyName(), reason: "duplicate key") }
            skipSpace()
            guard i < bytes.count else { return notObject }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "}") else { return notObject }
            i += 1
            return trailing() ? nil : notObject
        }
    }

    mutating func trailing() -> Bool {
        skipSpace()
        return i == bytes.count
    }

    func matches(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        return word.withUTF8Buffer { w in (0..<n).allSatisfy { bytes[i + $0] == w[$0] } }
    }

    /// Skips a string starting at the opening quote; returns the index of the closing quote.
    mutating func skipString() -> Int? {
        i += 1
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if b == UInt8(ascii: "\"") {
                let end = i
                i += 1
                return end
            }
            if b < 0x20 { return nil }
            i += 1
        }
        return nil
    }

    /// The bytes of a string starting at the opening quote when it has no escapes and is
    /// valid UTF-8 (and moves past it); nil otherwise, without moving, for ``string()`` to
    /// read or reject.
    mutating func plainString() -> UnsafeRawBufferPointer? {
        let start = i + 1
        var j = start
        var ascii = true
        while j < bytes.count {
            let b = bytes[j]
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") || b < 0x20 { return nil }
            if b >= 0x80 { ascii = false }
            j += 1
        }
        guard j < bytes.count else { return nil }
        let value = UnsafeRawBufferPointer(rebasing: bytes[start..<j])
        guard ascii || Self.isValidUTF8(value) else { return nil }
        i = j + 1
        return value
    }

    /// Reads a string starting at the opening quote, resolving escapes; nil when malformed.
    mutating func string() -> String? {
        if let plain = plainString() { return String(decoding: plain, as: UTF8.self) }
        // Escapes to resolve (or bytes to reject: control characters, invalid UTF-8, no end).
        var out: [UInt8] = []
        i += 1
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return out.withUnsafeBytes { makeString($0) }
            }
            if b < 0x20 { return nil }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            guard i + 1 < bytes.count else { return nil }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        return nil
                    }
                    i += 2
                    guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    return nil
                }
                guard let u = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                return nil
            }
        }
        return nil
    }

    /// A string from UTF-8 bytes; invalid UTF-8 is rejected as JSONDecoder does, not repaired.
    ///
    /// ASCII (almost every value in practice) takes the fast path; only other
    /// bytes pay for validation.
    func makeString(_ bytes: UnsafeRawBufferPointer) -> String? {
        var ascii = true
        for b in bytes where b >= 0x80 {
            ascii = false
            break
        }
        return ascii || Self.isValidUTF8(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// Whether `bytes` are valid UTF-8, checked without making a string.
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = Unicode.UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    mutating func hex4() -> UInt32? {
        guard i + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Skips any JSON value; false when malformed or nested deeper than 64.
    mutating func skipValue(depth: Int) -> Bool {
        guard depth < 64 else { return false }
        skipSpace()
        guard i < bytes.count else { return false }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            return string() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = bytes[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == close {
                i += 1
                return true
            }
            while true {
                if isObject {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), string() != nil else { return false }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return false }
                    i += 1
                }
                guard skipValue(depth: depth + 1) else { return false }
                skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == close else { return false }
                i += 1
                return true
            }
        case UInt8(ascii: "t"):
            guard matches("true") else { return false }
            i += 4
            return true
        case UInt8(ascii: "f"):
            guard matches("false") else { return false }
            i += 5
            return true
        case UInt8(ascii: "n"):
            guard matches("null") else { return false }
            i += 4
            return true
        default:
            // A number: -?digits[.digits][e[+-]digits]
            let start = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            var digits = 0
            while i < bytes.count, bytes[i] &- 0x30 < 10 {
                i += 1
                digits += 1
            }
            guard digits > 0 else { return false }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                var frac = 0
                while i < bytes.count, bytes[i] &- 0x30 < 10 {
                    i += 1
                    frac += 1
                }
                guard frac > 0 else { return false }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                var exp = 0
                while i < bytes.count, bytes[i] &- 0x30 < 10 {
                    i += 1
                    exp += 1
                }
                guard exp > 0 else { return false }
            }
            return i > start
        }
    }
}

/// FNV-1a 64 of the bytes: a stable identity for events that carry no id.
func contentHash(_ bytes: UnsafeRawBufferPointer) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    return String(h, radix: 16)
}
