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

    /// Adds `id`; false when it was there already.
    mutating func insert(_ id: String) -> Bool {
        if (count + 1) * 4 > hashes.count * 3 { grow() }
        var hasher = Hasher()
        hasher.combine(id)
        let h = UInt64(bitPattern: Int64(hasher.finalize())) | 1
        let mask = hashes.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while hashes[i] != 0 {
            if hashes[i] == h && ids[i] == id { return false }
            i = (i + 1) & mask
        }
        hashes[i] = h
        ids[i] = id
        count += 1
        return true
    }

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
