import SLACore

/// An incident's clocks as one value of its own row (`incidents.clocks`), so a report reads
/// one row per incident instead of joining a row per clock, and ingest writes one row per
/// touched incident.
///
/// The encoding is deterministic (same clocks, same bytes): a tag byte, the number of clocks,
/// then the clocks in metric order, each a flag byte saying which optional values follow, its
/// texts as a length and UTF-8 bytes, its numbers as zigzag LEB128 varints. An incident without clocks stores no bytes at all.
/// Only the breach crossing and the breach deadline are kept, which is what reports use.
enum PackedClocks {
    /// The first byte of a non-empty value: a later encoding comes with a migration and a new tag.
    static let tag: UInt8 = 1

    private static let hasTarget: UInt8 = 1 << 0
    private static let hasStoppedAt: UInt8 = 1 << 1
    private static let hasBreach: UInt8 = 1 << 2
    private static let hasDeadline: UInt8 = 1 << 3
    private static let hasRunningSince: UInt8 = 1 << 4
    private static let hasOwnBreachPriority: UInt8 = 1 << 5

    /// The clocks of one incident as stored.
    struct Row: Equatable {
        var metric: String
        var priority: String
        var outcome: String
        var target: Int64?
        var elapsed: Int64
        var stoppedAt: Int64?
        var breachedAt: Int64?
        var deadline: Int64?
        var runningSince: Int64?
        var calendar: String
        var breachPriority: String?
        var breachTarget: Int64?

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
        guard !rows.isEmpty else { return }
        out.append(tag)
        PackedBytes.number(Int64(rows.count), &out)
        for r in rows.sorted(by: { $0.metric.utf8.lexicographicallyPrecedes($1.metric.utf8) }) {
            var flags: UInt8 = 0
            if r.target != nil { flags |= hasTarget }
            if r.stoppedAt != nil { flags |= hasStoppedAt }
            if r.breachedAt != nil { flags |= hasBreach }
            if r.deadline != nil { flags |= hasDeadline }
            if r.runningSince != nil { flags |= hasRunningSince }
            // A breach keeps the priority and target it happened under; most often the clock's
            // own, which is then not repeated (the target as a difference, mostly zero).
            if r.breachedAt != nil, r.breachPriority != r.priority { flags |= hasOwnBreachPriority }
            out.append(flags)
            PackedBytes.text(r.metric, &out)
            PackedBytes.text(r.priority, &out)
            PackedBytes.text(r.outcome, &out)
            PackedBytes.text(r.calendar, &out)
            PackedBytes.number(r.elapsed, &out)
            if let v = r.target { PackedBytes.number(v, &out) }
            if let v = r.stoppedAt { PackedBytes.number(v, &out) }
            if let at = r.breachedAt {
                PackedBytes.number(at, &out)
                if flags & hasOwnBreachPriority != 0 { PackedBytes.text(r.breachPriority ?? "", &out) }
                PackedBytes.number((r.breachTarget ?? r.target ?? 0) &- (r.target ?? 0), &out)
            }
            if let v = r.deadline { PackedBytes.number(v, &out) }
            if let v = r.runningSince { PackedBytes.number(v, &out) }
        }
    }

    /// When the incident's clocks were last decided: nil while one is undecided (not stopped)
    /// or when there are none, else the latest stop or breach. A report of a period starting
    /// later needs the incident only if it opened in the period.
    static func settledAt(_ rows: [Row]) -> Int64? {
        guard !rows.isEmpty else { return nil }
        var latest = Int64.min
        for r in rows {
            guard let decided = decidedAt(stoppedAt: r.stoppedAt, breachedAt: r.breachedAt) else { return nil }
            latest = max(latest, decided)
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
    struct Malformed: Error, CustomStringConvertible {
        var incident: String
        var description: String { "incident \(incident): its stored clocks are damaged (not slad's encoding)" }
    }

    /// Reads one encoded value in place, bounds-checked: damaged bytes (a damaged store) end the
    /// read, never a read outside them.
    struct Reader {
        private var bytes: PackedBytes.Reader

        /// Clocks not yet read.
        private var remaining = 0
        /// Whether the bytes turned out not to be an encoding; the read ended there.
        private(set) var damaged = false

        /// A reader of `bytes` (empty: no clocks).
        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = PackedBytes.Reader(bytes)
            guard !bytes.isEmpty else { return }
            guard self.bytes.byte() == PackedClocks.tag, let n = self.bytes.number(), n > 0, n <= bytes.count else {
                damaged = true
                return
            }
            remaining = Int(n)
        }

        /// The next clock with its texts in place; nil after the last one, or where the bytes
        /// turn out damaged (then `damaged` is set; bytes left after the last clock are damage too).
        mutating func next() -> Raw? {
            guard !damaged, remaining > 0 else { return nil }
            guard let raw = clock() else {
                damaged = true
                return nil
            }
            remaining -= 1
            if remaining == 0 && !bytes.atEnd { damaged = true }
            return damaged ? nil : raw
        }

        private mutating func clock() -> Raw? {
            guard let flags = bytes.byte(), let metric = bytes.text(), let priority = bytes.text(),
                let outcome = bytes.text(),
                let calendar = bytes.text(), let elapsed = bytes.number()
            else { return nil }
            var raw = Raw(
                metric: metric, priority: priority, outcome: outcome, calendar: calendar, elapsed: elapsed)
            guard read(&raw.target, if: PackedClocks.hasTarget, in: flags),
                read(&raw.stoppedAt, if: PackedClocks.hasStoppedAt, in: flags)
            else { return nil }
            if flags & PackedClocks.hasBreach != 0 {
                guard let v = bytes.number() else { return nil }
                raw.breachedAt = v
                raw.breachPriority = priority
                if flags & PackedClocks.hasOwnBreachPriority != 0 {
                    guard let p = bytes.text() else { return nil }
                    raw.breachPriority = p
                }
                guard let t = bytes.number() else { return nil }
                raw.breachTarget = t &+ (raw.target ?? 0)
            }
            guard read(&raw.deadline, if: PackedClocks.hasDeadline, in: flags),
                read(&raw.runningSince, if: PackedClocks.hasRunningSince, in: flags)
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
    }

    /// One decoded clock whose texts still point into the stored bytes.
    struct Raw {
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

        /// The clock as owned values.
        var row: Row {
            func s(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
            return Row(
                metric: s(metric), priority: s(priority), outcome: s(outcome), target: target, elapsed: elapsed,
                stoppedAt: stoppedAt, breachedAt: breachedAt, deadline: deadline, runningSince: runningSince,
                calendar: s(calendar), breachPriority: breachPriority.map(s), breachTarget: breachTarget)
        }
    }

    /// Decodes every clock of `bytes`; throws ``Malformed`` (naming `incident`) for damaged bytes.
    static func rows(_ bytes: UnsafeBufferPointer<UInt8>, incident: String) throws -> [Row] {
        var reader = Reader(bytes)
        var out: [Row] = []
        while let raw = reader.next() { out.append(raw.row) }
        guard !reader.damaged else { throw Malformed(incident: incident) }
        return out
    }
}
