/// What a live engine knows beyond its events, per incident: its standing, earliest breach,
/// contract, group and armed timer. Written when the daemon stops, so that the next start
/// arms its timers from it instead of evaluating every incident again (the restart catch-up
/// was two thirds of a restart with 1 M open incidents).
///
/// Why it is enough: between two events an incident's state changes only at the instant its
/// timer is armed for (the earliest next threshold of its clocks). A start that finds the
/// ledger as the snapshot saw it, and the same configuration, refreshes the incidents whose
/// timer came due while slad was down (exactly what the full catch-up would find new) and
/// arms the others as they were. Anything else (a row added to the ledger, another
/// configuration, another build, the wall clock behind the snapshot) falls back to the
/// full catch-up.
///
/// The encoding is columnar, little-endian, with a version and the incidents' names checked
/// (count and an FNV-1a hash, in number order): numbers are only meaningful for an engine that
/// read the same ledger.
public struct LiveSnapshot: Sendable, Equatable {
    /// Wall-clock time of the snapshot, ms since the epoch.
    public var takenMilliseconds: Int64
    /// What the snapshot holds only for: the configuration and build (the caller's fingerprint).
    public var fingerprint: String
    /// Incidents the engine had numbered, and a hash of their names in number order.
    var incidentCount: Int
    var namesHash: UInt64
    var contractNames: [String]
    var groups: [LiveEngine.StandingGroup]
    /// Per incident number: 0 no standing, else 1 + the standing's position in `standingOrder`.
    var standings: [UInt8]
    var breachMilliseconds: [Int64]
    var contractOf: [Int32]
    var groupOf: [Int32]
    /// The armed timer's deadline (ms), `Int64.max` for none.
    var armed: [Int64]

    static let standingOrder: [IncidentStanding] = [.fine, .atRisk, .breached]
    static let magic: UInt32 = 0x534c_5331  // "SLS1"

    /// FNV-1a over every name's UTF-8 bytes, each followed by a 0 byte.
    static func namesHash(_ names: [String]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for name in names {
            for b in name.utf8 {
                h ^= UInt64(b)
                h &*= 0x100_0000_01b3
            }
            h &*= 0x100_0000_01b3
        }
        return h
    }

    /// The snapshot as bytes (``encode(_:)`` in one array).
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedCount)
        encode { out += $0 }
        return out
    }

    /// The length of ``encoded()``.
    public var encodedCount: Int {
        head().count + standings.count + 8 * breachMilliseconds.count + 4 * contractOf.count + 4 * groupOf.count
            + 8 * armed.count
    }

    /// Hands the bytes of ``encoded()`` to `emit`, in order: the head (texts and counts), then
    /// each column where it lies. The store writes each piece into the row's pages: the
    /// columns are 25 bytes per incident, and one array of them all would be the largest
    /// allocation of a stop with a million incidents.
    public func encode(_ emit: (UnsafeRawBufferPointer) -> Void) {
        func column<T: FixedWidthInteger>(_ a: [T]) {
            #if _endian(little)
            a.withUnsafeBytes(emit)
            #else
            a.map(\.littleEndian).withUnsafeBytes(emit)
            #endif
        }
        head().withUnsafeBytes(emit)
        column(standings)
        column(breachMilliseconds)
        column(contractOf)
        column(groupOf)
        column(armed)
    }

    /// Everything before the columns.
    private func head() -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func put(_ s: String) {
            put(UInt32(s.utf8.count))
            out += s.utf8
        }
        put(Self.magic)
        put(takenMilliseconds)
        put(fingerprint)
        put(Int64(incidentCount))
        put(namesHash)
        put(UInt32(contractNames.count))
        for c in contractNames { put(c) }
        put(UInt32(groups.count))
        for g in groups {
            put(g.contract)
            put(g.priority)
        }
        return out
    }
}

extension LiveSnapshot {
    /// Reads ``encoded()``; nil for anything else (another version, a cut or damaged value).
    public init?(decoding bytes: [UInt8]) {
        self.init(count: bytes.count) { into, at in
            bytes.withUnsafeBytes { into.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<at + into.count])) }
            return true
        }
    }

    /// Reads ``encoded()`` from a value of `total` bytes, which `read(into, at)` copies out:
    /// `into.count` bytes from offset `at` (false: they cannot be read). Each column is read
    /// straight into its array: the store reads a stored snapshot from the row's pages this
    /// way, without a copy of the whole value. Nil for anything else (another version, a cut
    /// or damaged value).
    public init?(count total: Int, read: (UnsafeMutableRawBufferPointer, Int) -> Bool) {
        var at = 0
        func take(_ into: UnsafeMutableRawBufferPointer) -> Bool {
            guard into.count <= total - at, into.isEmpty || read(into, at) else { return false }
            at += into.count
            return true
        }
        func get<T: FixedWidthInteger>(_: T.Type) -> T? {
            var v = T.zero
            guard withUnsafeMutableBytes(of: &v, take) else { return nil }
            return T(littleEndian: v)
        }
        func array<T: FixedWidthInteger>(_: T.Type, _ count: Int) -> [T]? {
            // Checked before any arithmetic or allocation: `count` comes from the value itself.
            guard count >= 0, count <= (total - at) / MemoryLayout<T>.size else { return nil }
            var ok = false
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                buffer.initialize(repeating: 0)
                initialized = count
                ok = take(UnsafeMutableRawBufferPointer(buffer))
                #if _endian(big)
                for i in 0..<count { buffer[i] = T(littleEndian: buffer[i]) }
                #endif
            }
            return ok ? values : nil
        }
        func text() -> String? {
            guard let n = get(UInt32.self).map(Int.init), let bytes = array(UInt8.self, n) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard get(UInt32.self) == Self.magic, let taken = get(Int64.self), let fingerprint = text(),
            let count = get(Int64.self).map(Int.init), count >= 0, let namesHash = get(UInt64.self),
            let contractCount = get(UInt32.self)
        else { return nil }
        var contractNames: [String] = []
        for _ in 0..<contractCount {
            guard let c = text() else { return nil }
            contractNames.append(c)
        }
        guard let groupCount = get(UInt32.self) else { return nil }
        var groups: [LiveEngine.StandingGroup] = []
        for _ in 0..<groupCount {
            guard let c = text(), let p = text() else { return nil }
            groups.append(LiveEngine.StandingGroup(contract: c, priority: p))
        }
        guard let standings = array(UInt8.self, count), let breach = array(Int64.self, count),
            let contractOf = array(Int32.self, count), let groupOf = array(Int32.self, count),
            let armed = array(Int64.self, count), at == total,
            standings.allSatisfy({ Int($0) <= Self.standingOrder.count }),
            // Contracts and groups are numbered again in their order at the resume: each must
            // be new there.
            Set(contractNames).count == contractNames.count, Set(groups).count == groups.count,
            contractOf.allSatisfy({ $0 >= -1 && $0 < Int32(contractNames.count) }),
            groupOf.allSatisfy({ $0 >= -1 && $0 < Int32(groups.count) })
        else { return nil }
        self.takenMilliseconds = taken
        self.fingerprint = fingerprint
        self.incidentCount = count
        self.namesHash = namesHash
        self.contractNames = contractNames
        self.groups = groups
        self.standings = standings
        self.breachMilliseconds = breach
        self.contractOf = contractOf
        self.groupOf = groupOf
        self.armed = armed
    }
}

extension LiveEngine {
    /// The engine's per-incident state and timers at wall-clock time `now` (``LiveSnapshot``).
    public func snapshot(nowMilliseconds now: Int64, fingerprint: String) -> LiveSnapshot {
        let names = engine.incidentIDs
        let count = names.count
        func padded<T>(_ a: [T], _ fill: T) -> [T] {
            // The engine's own arrays, shared, when they reach every incident (they always do
            // after a catch-up or a resume): the snapshot copies nothing it does not change.
            a.count == count
                ? a : a.count > count ? Array(a.prefix(count)) : a + repeatElement(fill, count: count - a.count)
        }
        let standing = padded(standings, nil).map { s -> UInt8 in
            s.map { UInt8(LiveSnapshot.standingOrder.firstIndex(of: $0)! + 1) } ?? 0
        }
        let armed = (0..<count).map { timers.wheel.deadline(of: UInt32($0)) ?? .max }
        return LiveSnapshot(
            takenMilliseconds: now, fingerprint: fingerprint, incidentCount: count,
            namesHash: LiveSnapshot.namesHash(names), contractNames: contractNames, groups: groups,
            standings: standing, breachMilliseconds: padded(breachMilliseconds, .max),
            contractOf: padded(contractOf, -1), groupOf: padded(groupOf, -1), armed: armed)
    }

    /// Takes `snapshot` as the state of every incident, instead of ``catchUp(nowMilliseconds:)``:
    /// the incidents whose timer came due by `now` are refreshed (in name order, as the catch-up
    /// and ``advance(toMilliseconds:)`` decide them), the others armed as they were. Nil, and
    /// nothing changed, when the snapshot is not of this engine's incidents or was taken after
    /// `now` (the wall clock went back: the full catch-up re-arms everything).
    public mutating func resume(from snapshot: LiveSnapshot, nowMilliseconds now: Int64) -> [SLANotification]? {
        let names = engine.incidentIDs
        guard snapshot.takenMilliseconds <= now, snapshot.incidentCount == names.count,
            standings.isEmpty, groups.isEmpty, snapshot.namesHash == LiveSnapshot.namesHash(names)
        else { return nil }
        for c in snapshot.contractNames { _ = contractSlot(c) }
        for g in snapshot.groups { _ = groupSlot(g.contract, g.priority) }
        // The snapshot's columns are taken as they are, not made and then replaced (``makeRoom``):
        // a million incidents' columns twice would be the top of a restart's memory.
        standings = Array(repeating: nil, count: names.count)
        groupOf = snapshot.groupOf
        contractOf = snapshot.contractOf
        breachMilliseconds = snapshot.breachMilliseconds
        var due: [Int] = []
        for i in 0..<snapshot.incidentCount {
            let s = snapshot.standings[i]
            setStanding(i, s == 0 ? nil : LiveSnapshot.standingOrder[Int(s) - 1], group: snapshot.groupOf[i])
            if snapshot.armed[i] <= now { due.append(i) }
        }
        withWheel { wheel in
            for (i, at) in snapshot.armed.enumerated() where at != .max && at > now {
                wheel.schedule(UInt32(i), at: at)
            }
        }
        return refreshInNameOrder(due, now: now)
    }
}
