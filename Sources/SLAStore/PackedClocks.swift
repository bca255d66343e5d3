import SLACore

/// An incident's clocks as one value of its own row (`incidents.clocks`), so a report reads
/// one row per incident instead of joining a row per clock, and ingest writes one row per
/// touched incident.
///
/// The encoding is deterministic (same clocks, same bytes): a tag byte, the number of clocks,
/// then the clocks in metric order, each a flag byte saying which optional values follow, its
/// texts as a length and UTF-8 bytes, its numbers as zigzag LEB128 varints. An incident without
/// clocks stores no bytes at all. Only the breach crossing and the breach deadline are kept,
/// which is what reports use.
///
/// Ingest rewrites a touched incident's row, so the bytes per clock are most of a durable
/// batch's cost once an incident carries OLA holds beside its contract clocks. The current
/// encoding (tag 2) therefore leaves out what the clock before already said: a priority or a
/// calendar equal to the previous clock's is a flag bit, an outcome is one byte, and each
/// instant is the difference from the instant written before it (an incident's instants lie
/// close together). Tag 1, every instant whole and every text written out, is still read: a
/// row is rewritten in the current encoding the next time its incident is touched.
package enum PackedClocks {
    /// The first byte of a non-empty value as written now.
    static let tag: UInt8 = 2
    /// The first encoding, still read.
    static let firstTag: UInt8 = 1

    private static let hasTarget: UInt8 = 1 << 0
    private static let hasStoppedAt: UInt8 = 1 << 1
    private static let hasBreach: UInt8 = 1 << 2
    private static let hasDeadline: UInt8 = 1 << 3
    private static let hasRunningSince: UInt8 = 1 << 4
    private static let hasOwnBreachPriority: UInt8 = 1 << 5
    private static let samePriority: UInt8 = 1 << 6
    private static let sameCalendar: UInt8 = 1 << 7

    /// The outcomes written as one byte (their index + 1); 0 says the outcome's text follows.
    private static let outcomes: [StaticString] = ["running", "paused", "met", "breached", "untracked"]

    /// The clocks of one incident as stored.
    package struct Row: Equatable {
        package var metric: String
        package var priority: String
        package var outcome: String
        package var target: Int64?
        package var elapsed: Int64
        package var stoppedAt: Int64?
        package var breachedAt: Int64?
        package var deadline: Int64?
        package var runningSince: Int64?
        package var calendar: String
        package var breachPriority: String?
        package var breachTarget: Int64?

        init(
            metric: String, priority: String, outcome: String, target: Int64?, elapsed: Int64, stoppedAt: Int64?,
            breachedAt: Int64?, deadline: Int64?, runningSince: Int64?, calendar: String, breachPriority: String?,
            breachTarget: Int64?
        ) {
            self.metric = metric
            self.priority = priority
            self.outcome = outcome
            self.target = target
            self.elapsed = elapsed
            self.stoppedAt = stoppedAt
            self.breachedAt = breachedAt
            self.deadline = deadline
            self.runningSince = runningSince
            self.calendar = calendar
            self.breachPriority = breachPriority
            self.breachTarget = breachTarget
        }

        init(_ c: ClockVerdict) {
            let breach = c.breach
            self.init(
                metric: c.metric.description, priority: c.priority, outcome: c.outcome.rawValue, target: c.target,
                elapsed: c.elapsed, stoppedAt: c.stoppedAt?.seconds, breachedAt: breach?.at.seconds,
                deadline: c.deadline?.seconds, runningSince: c.runningSince?.seconds, calendar: c.calendarID,
                breachPriority: breach?.priority, breachTarget: breach?.target)
        }
    }

    /// Appends the encoding of `rows` to `out`, in metric order whatever their order (nothing for no clocks).
    static func encode(_ rows: [Row], into out: inout [UInt8]) {
        encode(rows, into: &out, precedes: { $0.pointee.metric.utf8.lexicographicallyPrecedes($1.pointee.metric.utf8) })
        {
            let r = $0.pointee
            return Fields(
                priority: r.priority, outcome: outcomes.firstIndex { $0.description == r.outcome },
                outcomeText: r.outcome,
                calendar: r.calendar, elapsed: r.elapsed, target: r.target, stoppedAt: r.stoppedAt,
                breachedAt: r.breachedAt, breachPriority: r.breachPriority, breachTarget: r.breachTarget,
                deadline: r.deadline, runningSince: r.runningSince)
        } metric: { p, out in
            let r = p.pointee
            for kind in MetricKind.allCases.dropFirst() where r.metric.utf8.starts(with: kind.bytes) {
                let name = r.metric.utf8.dropFirst(kind.bytes.count)
                guard kind.named || name.isEmpty else { continue }
                out.append(kind.rawValue)
                if kind.named { PackedBytes.text(String(name)!, &out) }
                return
            }
            out.append(MetricKind.text.rawValue)
            PackedBytes.text(r.metric, &out)
        }
    }

    /// Appends the encoding of an incident's clocks as the engine decided them: the same bytes
    /// as their ``Row``s give, without making a text per clock (a hold's metric is written from
    /// its name, an outcome is its byte).
    package static func encode(_ clocks: [ClockVerdict], into out: inout [UInt8]) {
        encode(clocks, into: &out, precedes: { metricPrecedes($0.pointee.metric, $1.pointee.metric) }) { c in
            // Stored properties only: a computed one (`breach`, `deadline`) is handed a copy of
            // the whole clock.
            let breach = ClockVerdict.firstBreach(in: c.pointee.crossings)
            let outcome: Int? =
                switch c.pointee.outcome {
                case .running: 0
                case .paused: 1
                case .met: 2
                case .breached: 3
                case .untracked: 4
                }
            return Fields(
                priority: c.pointee.priority, outcome: outcome, outcomeText: "", calendar: c.pointee.calendarID,
                elapsed: c.pointee.elapsed, target: c.pointee.target, stoppedAt: c.pointee.stoppedAt?.seconds,
                breachedAt: breach?.at.seconds, breachPriority: breach?.priority, breachTarget: breach?.target,
                deadline: ClockVerdict.firstBreach(in: c.pointee.upcoming)?.at.seconds,
                runningSince: c.pointee.runningSince?.seconds)
        } metric: { c, out in
            switch c.pointee.metric {
            case .reaction: out.append(MetricKind.reaction.rawValue)
            case .resolution: out.append(MetricKind.resolution.rawValue)
            case .availability: out.append(MetricKind.availability.rawValue)
            case .promise(let name):
                out.append(MetricKind.promise.rawValue)
                PackedBytes.text(name, &out)
            case .ola(let name):
                out.append(MetricKind.ola.rawValue)
                PackedBytes.text(name, &out)
            }
        }
    }

    /// Whether `a`'s text (``Metric/description``) sorts before `b`'s by UTF-8 bytes, without
    /// making either: `availability` < `ola:…` < `promise:…` < `reaction` < `resolution`.
    static func metricPrecedes(_ a: Metric, _ b: Metric) -> Bool {
        func rank(_ m: Metric) -> Int {
            switch m {
            case .availability: 0
            case .ola: 1
            case .promise: 2
            case .reaction: 3
            case .resolution: 4
            }
        }
        switch (a, b) {
        case (.ola(let x), .ola(let y)), (.promise(let x), .promise(let y)):
            return x.utf8.lexicographicallyPrecedes(y.utf8)
        default:
            return rank(a) < rank(b)
        }
    }

    /// How the current encoding writes a metric: one byte, followed by the name of a promise
    /// or an OLA hold, or by the whole text for one slad does not know.
    enum MetricKind: UInt8, CaseIterable {
        case text = 0
        case reaction = 1
        case resolution = 2
        case availability = 3
        case promise = 4
        case ola = 5

        /// The metric's text, or the prefix of its name.
        var text: StaticString {
            switch self {
            case .text: ""
            case .reaction: "reaction"
            case .resolution: "resolution"
            case .availability: "availability"
            case .promise: "promise:"
            case .ola: "ola:"
            }
        }

        /// ``text``'s bytes.
        var bytes: UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        }

        /// Whether a name follows.
        var named: Bool { self == .promise || self == .ola || self == .text }
    }

    /// One clock's values as the encoder writes them.
    private struct Fields {
        var priority: String
        /// Index into ``outcomes``; nil writes `outcomeText`.
        var outcome: Int?
        var outcomeText: String
        var calendar: String
        var elapsed: Int64
        var target: Int64?
        var stoppedAt: Int64?
        var breachedAt: Int64?
        var breachPriority: String?
        var breachTarget: Int64?
        var deadline: Int64?
        var runningSince: Int64?
    }

    /// The clocks are read in place, through pointers: handing a clock over as a value, or
    /// sorting the clocks themselves, copies each one (its texts and arrays) on every write.
    private static func encode<C>(
        _ all: [C], into out: inout [UInt8], precedes: (UnsafePointer<C>, UnsafePointer<C>) -> Bool,
        fields: (UnsafePointer<C>) -> Fields, metric: (UnsafePointer<C>, inout [UInt8]) -> Void
    ) {
        guard !all.isEmpty else { return }
        out.append(tag)
        PackedBytes.number(Int64(all.count), &out)
        all.withUnsafeBufferPointer { buffer in
            let clocks = buffer.baseAddress!
            encode(clocks, count: buffer.count, into: &out, precedes: precedes, fields: fields, metric: metric)
        }
    }

    private static func encode<C>(
        _ clocks: UnsafePointer<C>, count: Int, into out: inout [UInt8],
        precedes: (UnsafePointer<C>, UnsafePointer<C>) -> Bool, fields: (UnsafePointer<C>) -> Fields,
        metric: (UnsafePointer<C>, inout [UInt8]) -> Void
    ) {
        // The order as indices (an incident has a handful of clocks).
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { order in
            for i in order.indices { order[i] = i }
            for i in order.indices.dropFirst() {
                var j = i
                while j > 0, precedes(clocks + order[j], clocks + order[j - 1]) {
                    order.swapAt(j, j - 1)
                    j -= 1
                }
            }
            var previous: (priority: String, calendar: String)?
            var lastInstant: Int64 = 0
            func instant(_ v: Int64, _ out: inout [UInt8]) {
                PackedBytes.number(v &- lastInstant, &out)
                lastInstant = v
            }
            for i in order {
                let r = fields(clocks + i)
                var flags: UInt8 = 0
                if r.target != nil { flags |= hasTarget }
                if r.stoppedAt != nil { flags |= hasStoppedAt }
                if r.breachedAt != nil { flags |= hasBreach }
                if r.deadline != nil { flags |= hasDeadline }
                if r.runningSince != nil { flags |= hasRunningSince }
                // A breach keeps the priority and target it happened under; most often the clock's
                // own, which is then not repeated (the target as a difference, mostly zero).
                if r.breachedAt != nil, r.breachPriority != r.priority { flags |= hasOwnBreachPriority }
                if let previous, previous.priority == r.priority { flags |= samePriority }
                if let previous, previous.calendar == r.calendar { flags |= sameCalendar }
                out.append(flags)
                metric(clocks + i, &out)
                if flags & samePriority == 0 { PackedBytes.text(r.priority, &out) }
                if let code = r.outcome {
                    out.append(UInt8(code + 1))
                } else {
                    out.append(0)
                    PackedBytes.text(r.outcomeText, &out)
                }
                if flags & sameCalendar == 0 { PackedBytes.text(r.calendar, &out) }
                PackedBytes.number(r.elapsed, &out)
                if let v = r.target { PackedBytes.number(v, &out) }
                if let v = r.stoppedAt { instant(v, &out) }
                if let at = r.breachedAt {
                    instant(at, &out)
                    if flags & hasOwnBreachPriority != 0 { PackedBytes.text(r.breachPriority ?? "", &out) }
                    PackedBytes.number((r.breachTarget ?? r.target ?? 0) &- (r.target ?? 0), &out)
                }
                if let v = r.deadline { instant(v, &out) }
                if let v = r.runningSince { instant(v, &out) }
                previous = (r.priority, r.calendar)
            }
        }
    }

    /// When the incident's clocks were last decided: nil while one is undecided (not stopped)
    /// or when there are none, else the latest stop or breach. A report of a period starting
    /// later needs the incident only if it opened in the period.
    static func settledAt(_ rows: [Row]) -> Int64? {
        guard !rows.isEmpty else { return nil }
        var latest = Int64.min
        for r in rows {
            guard let at = decidedAt(stoppedAt: r.stoppedAt, breachedAt: r.breachedAt) else { return nil }
            latest = max(latest, at)
        }
        return latest
    }

    /// ``settledAt(_:)-([Row])`` of the clocks as the engine decided them.
    package static func settledAt(_ clocks: [ClockVerdict]) -> Int64? {
        guard !clocks.isEmpty else { return nil }
        var latest = Int64.min
        for i in clocks.indices {
            guard
                let at = decidedAt(
                    stoppedAt: clocks[i].stoppedAt?.seconds,
                    breachedAt: ClockVerdict.firstBreach(in: clocks[i].crossings)?.at.seconds)
            else { return nil }
            latest = max(latest, at)
        }
        return latest
    }

    /// When a clock was decided for good: its stop, or its breach when that came later; nil
    /// while it has not stopped. The one definition behind `settled_at` and the clocks a
    /// report drops as decided before its period.
    static func decidedAt(stoppedAt: Int64?, breachedAt: Int64?) -> Int64? {
        stoppedAt.map { max($0, breachedAt ?? .min) }
    }

    /// Thrown for bytes that are not an encoding of clocks (a damaged store).
    package struct Malformed: Error, CustomStringConvertible {
        package var incident: String
        package init(incident: String) { self.incident = incident }
        package var description: String { "incident \(incident): its stored clocks are damaged (not slad's encoding)" }
    }

    /// Reads one encoded value in place, bounds-checked: damaged bytes (a damaged store) end the
    /// read, never a read outside them.
    struct Reader {
        private var bytes: PackedBytes.Reader

        /// Clocks not yet read.
        private var remaining = 0
        /// Whether the bytes turned out not to be an encoding; the read ended there.
        private(set) var damaged = false
        /// Whether the bytes are of the current encoding (else of the first).
        private var current = true
        /// The previous clock's priority and calendar, and the instant read last (current encoding).
        private var priority = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        private var calendar = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
        private var lastInstant: Int64 = 0

        /// A reader of `bytes` (empty: no clocks).
        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = PackedBytes.Reader(bytes)
            guard !bytes.isEmpty else { return }
            let tag = self.bytes.byte()
            guard tag == PackedClocks.tag || tag == PackedClocks.firstTag, let n = self.bytes.number(), n > 0,
                n <= bytes.count
            else {
                damaged = true
                return
            }
            current = tag == PackedClocks.tag
            remaining = Int(n)
        }

        /// The next clock with its texts in place; nil after the last one, or where the bytes
        /// turn out damaged (then `damaged` is set; bytes left after the last clock are damage too).
        mutating func next() -> Raw? {
            guard !damaged, remaining > 0 else { return nil }
            guard let raw = current ? clock() : firstClock() else {
                damaged = true
                return nil
            }
            remaining -= 1
            if remaining == 0 && !bytes.atEnd { damaged = true }
            return damaged ? nil : raw
        }

        private mutating func clock() -> Raw? {
            guard let flags = bytes.byte(), let kindByte = bytes.byte(), let kind = MetricKind(rawValue: kindByte)
            else { return nil }
            var metric = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
            if kind.named {
                guard let name = bytes.text() else { return nil }
                metric = name
            }
            // The first clock has no previous one to repeat.
            let first = priority.baseAddress == nil
            if flags & PackedClocks.samePriority == 0 {
                guard let p = bytes.text() else { return nil }
                priority = p
            } else if first {
                return nil
            }
            guard let code = bytes.byte() else { return nil }
            let outcome: UnsafeBufferPointer<UInt8>
            if code == 0 {
                guard let text = bytes.text() else { return nil }
                outcome = text
            } else {
                guard Int(code) <= PackedClocks.outcomes.count else { return nil }
                let name = PackedClocks.outcomes[Int(code) - 1]
                outcome = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
            }
            if flags & PackedClocks.sameCalendar == 0 {
                guard let c = bytes.text() else { return nil }
                calendar = c
            } else if first {
                return nil
            }
            guard let elapsed = bytes.number() else { return nil }
            return values(
                flags,
                Raw(
                    metricKind: kind, metric: metric, priority: priority, outcome: outcome, calendar: calendar,
                    elapsed: elapsed))
        }

        /// A clock of the first encoding: every text written out, every instant whole.
        private mutating func firstClock() -> Raw? {
            guard let flags = bytes.byte(), flags & (PackedClocks.samePriority | PackedClocks.sameCalendar) == 0,
                let metric = bytes.text(), let priority = bytes.text(), let outcome = bytes.text(),
                let calendar = bytes.text(), let elapsed = bytes.number()
            else { return nil }
            return values(
                flags,
                Raw(
                    metricKind: .text, metric: metric, priority: priority, outcome: outcome, calendar: calendar,
                    elapsed: elapsed))
        }

        /// Reads the numbers `flags` announces after a clock's texts into `raw`.
        private mutating func values(_ flags: UInt8, _ raw: Raw) -> Raw? {
            var raw = raw
            guard read(&raw.target, if: PackedClocks.hasTarget, in: flags),
                instant(&raw.stoppedAt, if: PackedClocks.hasStoppedAt, in: flags)
            else { return nil }
            if flags & PackedClocks.hasBreach != 0 {
                guard instant(&raw.breachedAt, if: PackedClocks.hasBreach, in: flags) else { return nil }
                raw.breachPriority = raw.priority
                if flags & PackedClocks.hasOwnBreachPriority != 0 {
                    guard let p = bytes.text() else { return nil }
                    raw.breachPriority = p
                }
                guard let t = bytes.number() else { return nil }
                raw.breachTarget = t &+ (raw.target ?? 0)
            }
            guard instant(&raw.deadline, if: PackedClocks.hasDeadline, in: flags),
                instant(&raw.runningSince, if: PackedClocks.hasRunningSince, in: flags)
            else { return nil }
            return raw
        }

        /// Reads a number into `value` when `flags` has `flag`; false when the bytes end first.
        private mutating func read(_ value: inout Int64?, if flag: UInt8, in flags: UInt8) -> Bool {
            guard flags & flag != 0 else { return true }
            guard let v = bytes.number() else { return false }
            value = v
            return true
        }

        /// ``read(_:if:in:)`` of an instant: in the current encoding, the difference from the
        /// instant read before it.
        private mutating func instant(_ value: inout Int64?, if flag: UInt8, in flags: UInt8) -> Bool {
            guard flags & flag != 0 else { return true }
            guard let v = bytes.number() else { return false }
            if current {
                lastInstant = lastInstant &+ v
                value = lastInstant
            } else {
                value = v
            }
            return true
        }
    }

    /// One decoded clock whose texts still point into the stored bytes.
    struct Raw {
        /// How the metric was written; `metric` holds its name, or its whole text for ``MetricKind/text``.
        var metricKind: MetricKind
        var metric: UnsafeBufferPointer<UInt8>
        var priority: UnsafeBufferPointer<UInt8>
        var outcome: UnsafeBufferPointer<UInt8>
        var calendar: UnsafeBufferPointer<UInt8>
        var elapsed: Int64
        var target: Int64? = nil
        var stoppedAt: Int64? = nil
        var breachedAt: Int64? = nil
        var breachPriority: UnsafeBufferPointer<UInt8>? = nil
        var breachTarget: Int64? = nil
        var deadline: Int64? = nil
        var runningSince: Int64? = nil

        /// The metric; `text` makes an owned text of stored bytes (a caller may keep the last
        /// few). Nil for a text that is no metric (a damaged store).
        func metric(_ text: (UnsafeBufferPointer<UInt8>) -> String) -> Metric? {
            switch metricKind {
            case .reaction: .reaction
            case .resolution: .resolution
            case .availability: .availability
            case .promise: .promise(text(metric))
            case .ola: .ola(text(metric))
            case .text: Metric(parsing: text(metric))
            }
        }

        /// The clock as owned values.
        var row: Row {
            func s(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
            return Row(
                metric: metricKind.text.description + s(metric), priority: s(priority), outcome: s(outcome),
                target: target, elapsed: elapsed, stoppedAt: stoppedAt, breachedAt: breachedAt, deadline: deadline,
                runningSince: runningSince, calendar: s(calendar), breachPriority: breachPriority.map(s),
                breachTarget: breachTarget)
        }
    }

    /// Decodes every clock of `bytes`; throws ``Malformed`` (naming `incident`) for damaged bytes.
    package static func rows(_ bytes: UnsafeBufferPointer<UInt8>, incident: String) throws -> [Row] {
        var reader = Reader(bytes)
        var out: [Row] = []
        while let raw = reader.next() { out.append(raw.row) }
        guard !reader.damaged else { throw Malformed(incident: incident) }
        return out
    }
}
