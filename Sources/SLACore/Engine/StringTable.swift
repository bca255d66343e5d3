import CPrefetch

/// Strings numbered densely in the order they were first added (event ids, incident names:
/// millions of them), found through an open-addressing table.
///
/// Each slot is one 64-bit word: 32 bits of the string's hash above its number. Growing the
/// table moves the words without hashing a single string again (`Set<String>` and `Dictionary`
/// rehash every key at each growth), and a probe compares strings only where those 32 bits
/// match. One word, not a 64-bit hash and a 32-bit number side by side: 8 bytes a slot instead
/// of 12, and a slot is one memory access.
/// The strings themselves sit in one dense array, in order. Hashes are Swift's seeded
/// `Hasher`, as `Set` uses: the strings come from outside.
struct StringTable: Sendable {
    /// Per slot: ``tag(_:)`` of the string's hash in the high 32 bits, its number plus one in
    /// the low 32 (0: an empty slot); probed linearly.
    private var slots: [UInt64]
    /// The strings, by number.
    private(set) var strings: [String] = []

    /// Strings held.
    var count: Int { strings.count }

    init() {
        slots = Array(repeating: 0, count: 16)
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

    /// The number of `string`, nil when it is not held.
    func number(of string: String) -> Int? {
        find(string, Self.hash(string)).number
    }

    /// The number of `string`, which is added when it is not held yet.
    mutating func insert(_ string: String) -> (number: Int, inserted: Bool) {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let h = Self.hash(string)
        let (slot, number) = find(string, h)
        if let number { return (number, false) }
        slots[slot] = Self.word(h, strings.count)
        strings.append(string)
        return (strings.count - 1, true)
    }

    /// The slot word of number `number` under hash `h`.
    @inline(__always)
    private static func word(_ h: UInt64, _ number: Int) -> UInt64 { tag(h) << 32 | UInt64(number + 1) }

    /// Where `string` (hash `h`) is: its slot and number, or the empty slot where it belongs.
    private func find(_ string: String, _ h: UInt64) -> (slot: Int, number: Int?) {
        slots.withUnsafeBufferPointer { slots in
            Self.probe(string, h, slots.baseAddress!, slots.count - 1, strings)
        }
    }

    /// The probe itself, on the slots' memory: one definition for single lookups and batches.
    @inline(__always)
    private static func probe(
        _ string: String, _ h: UInt64, _ slots: UnsafePointer<UInt64>, _ mask: Int, _ strings: [String]
    ) -> (slot: Int, number: Int?) {
        let tag = tag(h)
        var i = home(h, mask)
        while slots[i] != 0 {
            let number = Int(truncatingIfNeeded: slots[i] & 0xFFFF_FFFF) - 1
            if slots[i] >> 32 == tag && strings[number] == string { return (i, number) }
            i = (i + 1) & mask
        }
        return (i, nil)
    }

    /// Adds `count` strings, `string(0)` to `string(count - 1)`, in order; per string, false
    /// when it was held already (an earlier string of the batch included).
    ///
    /// Why a batch: in a large table every string's slot is a cache miss, and one string at a
    /// time the processor waits for each in turn.
    /// Here the hashes come first, then each probe asks for the slots of a string a few
    /// places ahead. `hashes`, when given, holds ``hash(_:)`` of each string, made beforehand
    /// (ingest hashes a read's ids on the thread that reads and decodes them).
    @discardableResult
    mutating func insert(count n: Int, hashes given: [UInt64]?, string: (Int) -> String) -> [Bool] {
        [Bool](unsafeUninitializedCapacity: n) { out, initialized in
            insert(count: n, hashes: given, string: string) { k, _, inserted in out[k] = inserted }
            initialized = n
        }
    }

    /// ``insert(count:hashes:string:)`` that gives each string's number too: `each(k, number,
    /// inserted)` for every `k` in order.
    mutating func insert(
        count n: Int, hashes given: [UInt64]?, string: (Int) -> String, _ each: (Int, Int, Bool) -> Void
    ) {
        while (count + n) * 4 > slots.count * 3 { grow() }
        let keyed: [UInt64]
        if let given, given.count == n {
            keyed = given
        } else {
            keyed = [UInt64](unsafeUninitializedCapacity: n) { buffer, initialized in
                for k in 0..<n { buffer[k] = Self.hash(string(k)) }
                initialized = n
            }
        }
        let mask = slots.count - 1
        var strings = self.strings
        self.strings = []
        defer { self.strings = strings }
        slots.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            for k in 0..<n {
                if k + Self.lookahead < n {
                    slad_prefetch_for_write(base + Self.home(keyed[k + Self.lookahead], mask))
                }
                let h = keyed[k]
                let candidate = string(k)
                let (slot, number) = Self.probe(candidate, h, base, mask, strings)
                if let number {
                    each(k, number, false)
                } else {
                    base[slot] = Self.word(h, strings.count)
                    strings.append(candidate)
                    each(k, strings.count - 1, true)
                }
            }
        }
    }

    /// How many strings ahead a batch insert asks for slots.
    private static let lookahead = 16

    /// Twice the slots, each word moved by the hash bits it keeps.
    private mutating func grow() {
        let capacity = slots.count * 2
        var newSlots = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        for word in slots where word != 0 {
            var i = Int(truncatingIfNeeded: word >> 32) & mask
            while newSlots[i] != 0 { i = (i + 1) & mask }
            newSlots[i] = word
        }
        slots = newSlots
    }
}
