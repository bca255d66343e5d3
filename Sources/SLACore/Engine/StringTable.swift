import CPrefetch

/// Strings numbered densely in the order they were first added (event ids, incident names:
/// millions of them), found through an open-addressing table.
///
/// The table keeps each string's hash beside its number, so that growing it moves hashes and
/// numbers without hashing a single string again: `Set<String>` and `Dictionary` rehash every
/// key at each growth.
/// The strings themselves sit in one dense array, in order. Hashes are Swift's seeded
/// `Hasher`, as `Set` uses: the strings come from outside.
struct StringTable: Sendable {
    /// `hash | 1` per slot (0: empty), probed linearly.
    private var hashes: [UInt64]
    /// Per slot: the number of its string.
    private var numbers: [Int32]
    /// The strings, by number.
    private(set) var strings: [String] = []

    /// Strings held.
    var count: Int { strings.count }

    init() {
        hashes = Array(repeating: 0, count: 16)
        numbers = Array(repeating: 0, count: 16)
    }

    /// The hash a string is kept under: Swift's seeded `Hasher`, never 0.
    static func hash(_ string: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(string)
        return UInt64(bitPattern: Int64(hasher.finalize())) | 1
    }

    /// The slot where a probe for hash `h` starts: from the bits above the lowest, which
    /// ``hash(_:)`` sets on every hash (0 marks an empty slot); with it, every probe would
    /// start at an odd slot.
    @inline(__always)
    static func home(_ h: UInt64, _ mask: Int) -> Int { Int(truncatingIfNeeded: h >> 1) & mask }

    /// The number of `string`, nil when it is not held.
    func number(of string: String) -> Int? {
        find(string, Self.hash(string)).number
    }

    /// The number of `string`, which is added when it is not held yet.
    mutating func insert(_ string: String) -> (number: Int, inserted: Bool) {
        if (count + 1) * 4 > hashes.count * 3 { grow() }
        let h = Self.hash(string)
        let (slot, number) = find(string, h)
        if let number { return (number, false) }
        hashes[slot] = h
        numbers[slot] = Int32(strings.count)
        strings.append(string)
        return (strings.count - 1, true)
    }

    /// Where `string` (hash `h`) is: its slot and number, or the empty slot where it belongs.
    private func find(_ string: String, _ h: UInt64) -> (slot: Int, number: Int?) {
        hashes.withUnsafeBufferPointer { slotHashes in
            numbers.withUnsafeBufferPointer { slotNumbers in
                Self.probe(string, h, slotHashes.baseAddress!, slotNumbers.baseAddress!, hashes.count - 1, strings)
            }
        }
    }

    /// The probe itself, on the slots' memory: one definition for single lookups and batches.
    @inline(__always)
    private static func probe(
        _ string: String, _ h: UInt64, _ hashes: UnsafePointer<UInt64>, _ numbers: UnsafePointer<Int32>,
        _ mask: Int, _ strings: [String]
    ) -> (slot: Int, number: Int?) {
        var i = home(h, mask)
        while hashes[i] != 0 {
            if hashes[i] == h && strings[Int(numbers[i])] == string { return (i, Int(numbers[i])) }
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
        while (count + n) * 4 > hashes.count * 3 { grow() }
        let keyed: [UInt64]
        if let given, given.count == n {
            keyed = given
        } else {
            keyed = [UInt64](unsafeUninitializedCapacity: n) { buffer, initialized in
                for k in 0..<n { buffer[k] = Self.hash(string(k)) }
                initialized = n
            }
        }
        let mask = hashes.count - 1
        var strings = self.strings
        self.strings = []
        defer { self.strings = strings }
        hashes.withUnsafeMutableBufferPointer { slotHashes in
            numbers.withUnsafeMutableBufferPointer { slotNumbers in
                let hashBase = slotHashes.baseAddress!
                let numberBase = slotNumbers.baseAddress!
                for k in 0..<n {
                    if k + Self.lookahead < n {
                        let ahead = Self.home(keyed[k + Self.lookahead], mask)
                        slad_prefetch_for_write(hashBase + ahead)
                        slad_prefetch_for_write(numberBase + ahead)
                    }
                    let h = keyed[k]
                    let candidate = string(k)
                    let (slot, number) = Self.probe(candidate, h, hashBase, numberBase, mask, strings)
                    if let number {
                        each(k, number, false)
                    } else {
                        hashBase[slot] = h
                        numberBase[slot] = Int32(strings.count)
                        strings.append(candidate)
                        each(k, strings.count - 1, true)
                    }
                }
            }
        }
    }

    /// How many strings ahead a batch insert asks for slots.
    private static let lookahead = 16

    /// Twice the slots, each number moved by its kept hash.
    private mutating func grow() {
        let capacity = hashes.count * 2
        var newHashes = [UInt64](repeating: 0, count: capacity)
        var newNumbers = [Int32](repeating: 0, count: capacity)
        let mask = capacity - 1
        for k in hashes.indices where hashes[k] != 0 {
            var i = Self.home(hashes[k], mask)
            while newHashes[i] != 0 { i = (i + 1) & mask }
            newHashes[i] = hashes[k]
            newNumbers[i] = numbers[k]
        }
        hashes = newHashes
        numbers = newNumbers
    }
}
