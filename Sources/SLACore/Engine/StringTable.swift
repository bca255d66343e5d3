import CPrefetch

/// The slots of an open-addressing table of strings whose values are small numbers (a
/// string's number, where an event is kept), probed linearly: the core of ``StringTable`` and of
/// the ingest engine's table of event ids, which keep the strings themselves elsewhere.
///
/// Each slot is one 64-bit word: 32 bits of the string's hash above its value plus one (0: an
/// empty slot). Growing the table moves the words without hashing a single string again
/// (`Set<String>` and `Dictionary` rehash every key at each growth), and a probe compares
/// strings only where those 32 bits match. One word, not a 64-bit hash and a 32-bit number side
/// by side: 8 bytes a slot instead of 12, and a slot is one memory access. Hashes are Swift's
/// seeded `Hasher`, as `Set` uses: the strings come from outside.
struct HashSlots: Sendable {
    private var slots: [UInt64]
    /// Strings held.
    private(set) var count = 0

    /// An empty table.
    init() { slots = Array(repeating: 0, count: 16) }

    private init(slots: [UInt64]) { self.slots = slots }

    /// A table with no slots, which stands in its owner while the real table is taken out to
    /// be changed (its closures read the owner's strings): the empty array allocates nothing.
    /// It is never probed.
    static var placeholder: HashSlots { HashSlots(slots: []) }

    /// `given` when it holds a hash for each of the `n` strings, else ``hash(_:)`` of each:
    /// readers may hash a batch on their own thread beforehand.
    static func hashes(_ given: [UInt64]?, count n: Int, string: (Int) -> String) -> [UInt64] {
        if let given, given.count == n { return given }
        return (0..<n).map { hash(string($0)) }
    }

    /// The hash a string is kept under: Swift's seeded `Hasher`, never 0.
    static func hash(_ string: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(string)
        return UInt64(bitPattern: Int64(hasher.finalize())) | 1
    }

    /// The 32 bits of a hash that its slot keeps: the high ones (``hash(_:)`` sets the lowest).
    @inline(__always)
    static func tag(_ h: UInt64) -> UInt64 { h >> 32 }

    /// The slot where a probe for hash `h` starts: from the bits its slot keeps, so that a
    /// growth places each word again without the string.
    @inline(__always)
    static func home(_ h: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: tag(h)) & mask }

    /// The value of the string with hash `h` for which `holds(value)` says it is the one; nil
    /// when none is held.
    @inline(__always)
    func value(_ h: UInt64, holds: (Int) -> Bool) -> Int? {
        slots.withUnsafeBufferPointer { Self.probe(h, $0.baseAddress!, $0.count - 1, holds).value }
    }

    /// Finds or adds a string: `holds(value)` says whether a held string with the same hash bits
    /// is it; when none is, `value()` gives the new string's value, which is stored.
    @inline(__always)
    mutating func insert(_ h: UInt64, holds: (Int) -> Bool, value: () -> Int) -> (value: Int, inserted: Bool) {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let mask = slots.count - 1
        let (slot, found) = slots.withUnsafeBufferPointer { Self.probe(h, $0.baseAddress!, mask, holds) }
        if let found { return (found, false) }
        let v = value()
        slots[slot] = Self.word(h, v)
        count += 1
        return (v, true)
    }

    /// The slot word of `value` under hash `h`.
    @inline(__always)
    private static func word(_ h: UInt64, _ value: Int) -> UInt64 {
        precondition(value >= 0 && value < Int(UInt32.max), "HashSlots: value out of range")
        return tag(h) << 32 | UInt64(value + 1)
    }

    /// Finds or adds `count` strings, in order, their hashes `hashes`; `holds(value, k)` says
    /// whether the held string of `value` is string `k`, `value(k)` gives a new string's value
    /// (called once per new string, in order, before the next string is looked up: a string
    /// of the batch can be found by a later one). Gives per string its value and whether it
    /// was new.
    ///
    /// Why a batch: in a large table every string's slot is a cache miss, and one string at a
    /// time the processor waits for each in turn. Each probe here asks for the slot of a
    /// string a few places ahead.
    @inline(__always)
    mutating func insert(
        count n: Int, hashes keyed: [UInt64], holds: (Int, Int) -> Bool, value: (Int) -> Int
    ) -> [(value: Int, inserted: Bool)] {
        while (count + n) * 4 > slots.count * 3 { grow() }
        let mask = slots.count - 1
        var added = 0
        let out = slots.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            return [(value: Int, inserted: Bool)](unsafeUninitializedCapacity: n) { out, initialized in
                for k in 0..<n {
                    if k + Self.lookahead < n {
                        slad_prefetch_for_write(base + Self.home(keyed[k + Self.lookahead], mask))
                    }
                    let h = keyed[k]
                    let (slot, found) = Self.probe(h, UnsafePointer(base), mask) { holds($0, k) }
                    if let found {
                        out[k] = (found, false)
                    } else {
                        let v = value(k)
                        base[slot] = Self.word(h, v)
                        added += 1
                        out[k] = (v, true)
                    }
                }
                initialized = n
            }
        }
        count += added
        return out
    }

    /// The probe itself, on the slots' memory: one definition for single lookups and batches.
    @inline(__always)
    private static func probe(
        _ h: UInt64, _ slots: UnsafePointer<UInt64>, _ mask: Int, _ holds: (Int) -> Bool
    ) -> (slot: Int, value: Int?) {
        let tag = tag(h)
        var i = home(h, mask)
        while slots[i] != 0 {
            let value = Int(truncatingIfNeeded: slots[i] & 0xFFFF_FFFF) - 1
            if slots[i] >> 32 == tag && holds(value) { return (i, value) }
            i = (i + 1) & mask
        }
        return (i, nil)
    }

    /// How many strings ahead a batch insert asks for slots.
    private static let lookahead = 16

    /// Twice the slots, each word moved by the hash bits it keeps.
    private mutating func grow() {
        let capacity = slots.count * 2
        var newSlots = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for word in slots where word != 0 {
            // A word keeps its hash's tag in the same bits: it starts where its string's probe does.
            var i = Self.home(word, mask)
            while newSlots[i] != 0 { i = (i + 1) & mask }
            newSlots[i] = word
        }
        slots = newSlots
    }
}

/// Strings numbered densely in the order they were first added (incident names, the texts of
/// events' fields), found through ``HashSlots``; the strings sit in one dense array, in order.
struct StringTable: Sendable {
    private var slots = HashSlots()
    /// The strings, by number.
    private(set) var strings: [String] = []

    /// Strings held.
    var count: Int { strings.count }

    /// The hash a string is kept under (``HashSlots/hash(_:)``).
    static func hash(_ string: String) -> UInt64 { HashSlots.hash(string) }

    /// The number of `string`, nil when it is not held.
    func number(of string: String) -> Int? {
        slots.value(Self.hash(string)) { strings[$0] == string }
    }

    /// The number of `string`, which is added when it is not held yet.
    mutating func insert(_ string: String) -> (number: Int, inserted: Bool) {
        var (slots, strings) = (self.slots, self.strings)
        (self.slots, self.strings) = (HashSlots.placeholder, [])
        defer { (self.slots, self.strings) = (slots, strings) }
        let (number, inserted) = slots.insert(Self.hash(string), holds: { strings[$0] == string }) {
            strings.append(string)
            return strings.count - 1
        }
        return (number, inserted)
    }

    /// Adds `count` strings, `string(0)` to `string(count - 1)`, in order; per string, its
    /// number and whether it was new (false when it was held already, an earlier string of the
    /// batch included). `hashes`, when given, holds ``hash(_:)`` of each string, made beforehand.
    mutating func insertNumbered(
        count n: Int, hashes given: [UInt64]?, string: (Int) -> String
    ) -> [(value: Int, inserted: Bool)] {
        let keyed = HashSlots.hashes(given, count: n, string: string)
        // Out of `self` while the slots are changed: the closures read the strings.
        var (slots, strings) = (self.slots, self.strings)
        (self.slots, self.strings) = (HashSlots.placeholder, [])
        defer { (self.slots, self.strings) = (slots, strings) }
        return slots.insert(count: n, hashes: keyed, holds: { strings[$0] == string($1) }) { k in
            strings.append(string(k))
            return strings.count - 1
        }
    }
}
