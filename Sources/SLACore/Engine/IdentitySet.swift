import CPrefetch

/// The set of event identities the engine has seen: every id of the ledger, millions of them.
///
/// An open-addressing table that keeps each id's hash beside it, so that growing the table
/// moves hashes and ids without hashing a single id again. `Set<String>` rehashes every id at
/// each growth, which was a tenth of a long import's engine time (docs/benchmarks.md).
/// Hashes are Swift's seeded `Hasher`, as `Set` uses: ids come from outside.
struct IdentitySet: Sendable {
    /// `hash | 1` per slot (0: empty), probed linearly.
    private var hashes: [UInt64]
    private var ids: [String]
    /// Ids held.
    private(set) var count = 0

    init() {
        hashes = Array(repeating: 0, count: 16)
        ids = Array(repeating: "", count: 16)
    }

    /// Adds `count` ids, `id(0)` to `id(count - 1)`, in order; per id, false when it was
    /// there already (an earlier id of the batch included).
    ///
    /// Why a batch: in a large set every id's slot is a cache miss, and one id at a time the
    /// processor waits for each in turn (about a tenth of an import's engine time). Here the
    /// hashes come first, then each probe asks for the slots of an id a few places ahead.
    ///
    /// `hashes`, when given, holds ``hash(_:)`` of each id, made beforehand (ingest hashes a
    /// read's ids on the thread that reads and decodes them, off the engine's thread).
    mutating func insert(count n: Int, hashes given: [UInt64]? = nil, id: (Int) -> String) -> [Bool] {
        while (count + n) * 4 > hashes.count * 3 { grow() }
        let keyed: [UInt64]
        if let given, given.count == n {
            keyed = given
        } else {
            keyed = [UInt64](unsafeUninitializedCapacity: n) { buffer, initialized in
                for k in 0..<n { buffer[k] = Self.hash(id(k)) }
                initialized = n
            }
        }
        let mask = hashes.count - 1
        var added = 0
        let fresh = [Bool](unsafeUninitializedCapacity: n) { out, initialized in
            hashes.withUnsafeMutableBufferPointer { slotHashes in
                ids.withUnsafeMutableBufferPointer { slotIDs in
                    let hashBase = slotHashes.baseAddress!
                    let idBase = slotIDs.baseAddress!
                    for k in 0..<n {
                        if k + Self.lookahead < n {
                            let ahead = Int(truncatingIfNeeded: keyed[k + Self.lookahead]) & mask
                            slad_prefetch_for_write(hashBase + ahead)
                            slad_prefetch_for_write(idBase + ahead)
                        }
                        let h = keyed[k]
                        let candidate = id(k)
                        var i = Int(truncatingIfNeeded: h) & mask
                        var new = true
                        while hashBase[i] != 0 {
                            if hashBase[i] == h && idBase[i] == candidate {
                                new = false
                                break
                            }
                            i = (i + 1) & mask
                        }
                        if new {
                            hashBase[i] = h
                            idBase[i] = candidate
                            added += 1
                        }
                        out[k] = new
                    }
                }
            }
            initialized = n
        }
        count += added
        return fresh
    }

    /// The hash an id is kept under: Swift's seeded `Hasher`, never 0.
    static func hash(_ id: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(id)
        return UInt64(bitPattern: Int64(hasher.finalize())) | 1
    }

    /// How many ids ahead a batch insert asks for slots.
    private static let lookahead = 16

    /// Twice the slots, each id moved by its kept hash.
    private mutating func grow() {
        let capacity = hashes.count * 2
        var newHashes = [UInt64](repeating: 0, count: capacity)
        var newIDs = [String](repeating: "", count: capacity)
        let mask = capacity - 1
        for k in hashes.indices where hashes[k] != 0 {
            var i = Int(truncatingIfNeeded: hashes[k]) & mask
            while newHashes[i] != 0 { i = (i + 1) & mask }
            newHashes[i] = hashes[k]
            swap(&newIDs[i], &ids[k])
        }
        hashes = newHashes
        ids = newIDs
    }
}
