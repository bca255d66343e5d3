/// A hierarchical timer wheel with millisecond resolution (Varghese & Lauck;
/// laid out like tokio's and the post-2016 Linux wheel), keyed by the caller's
/// own dense index: at most one timer per key.
///
/// Eight levels of 64 slots each cover 64⁸ ms (about 8,900 years). A timer
/// sits at the level of the highest 6-bit group in which its deadline differs
/// from the wheel's current time, so the lowest occupied level always holds the
/// earliest timers; advancing cascades a higher-level slot down when its time
/// comes. Finding the next occupied slot is a bitmap scan per level, so an idle
/// wheel needs no ticking at all.
///
/// Why keyed: the caller (the live engine) already has a dense index per incident
/// and only ever needs that incident's earliest threshold. With the key as the
/// timer's name there is no handle for the caller to keep and look up, and
/// (re)scheduling or cancelling touches one 8-byte word, the key's deadline.
/// A slot holds references — key and deadline, 12 bytes — in blocks appended at
/// its tail; a reference is live while its deadline is still the key's. Moving
/// or cancelling a timer therefore leaves its old reference behind, reclaimed
/// when its slot is taken or, once stale references pass half of the live
/// timers, all at once (``reclaim()``: a pass over the keys or over the
/// references, whichever is shorter). So insert and cancel are O(1) (amortized), with no
/// allocation per timer: about 20 bytes each. Time is a value passed in
/// (milliseconds since the epoch); the wheel never reads a clock.
public struct TimerWheel: Sendable {
    static let levels = 8
    static let slotBits: Int64 = 6
    static let slotsPerLevel = 64
    /// Slot lists, plus one for references armed at or before the wheel's time.
    static let lists = levels * slotsPerLevel + 1
    static let lateList = levels * slotsPerLevel
    /// References per block: large enough that appends run through memory in order,
    /// small enough that a few hundred part-filled slots cost little.
    static let blockSize = 32
    static let blockShift = 5
    /// A key's deadline when it has no timer.
    static let unarmed = Int64.min

    /// Everything in manually grown buffers: a Swift array per field would pay a
    /// uniqueness and bounds check on every access of the hot path (measured).
    final class Storage: @unchecked Sendable {
        /// Per key: its timer's deadline, or `unarmed`.
        var deadlines: UnsafeMutablePointer<Int64>
        var keyCount = 0
        var keyCapacity: Int
        /// References, `blockSize` per block: the key and the deadline it was armed for.
        var refKeys: UnsafeMutablePointer<UInt32>
        var refDeadlines: UnsafeMutablePointer<Int64>
        /// Per block: the next block of its list (or of the free list), -1 at the end.
        var blockNext: UnsafeMutablePointer<Int32>
        var blockCount = 0
        var blockCapacity: Int
        var freeBlock: Int32 = -1
        /// Per list: first and last block (-1 when empty) and the references in the last
        /// (every other block of a list is full).
        let heads: UnsafeMutablePointer<Int32>
        let tails: UnsafeMutablePointer<Int32>
        let tailFill: UnsafeMutablePointer<Int32>
        /// Occupancy bitmap per level.
        let occupied: UnsafeMutablePointer<UInt64>

        init(keys: Int, blocks: Int) {
            keyCapacity = max(keys, 16)
            blockCapacity = max(blocks, 4)
            deadlines = .allocate(capacity: keyCapacity)
            refKeys = .allocate(capacity: blockCapacity * TimerWheel.blockSize)
            refDeadlines = .allocate(capacity: blockCapacity * TimerWheel.blockSize)
            blockNext = .allocate(capacity: blockCapacity)
            heads = .allocate(capacity: TimerWheel.lists)
            heads.initialize(repeating: -1, count: TimerWheel.lists)
            tails = .allocate(capacity: TimerWheel.lists)
            tails.initialize(repeating: -1, count: TimerWheel.lists)
            tailFill = .allocate(capacity: TimerWheel.lists)
            tailFill.initialize(repeating: 0, count: TimerWheel.lists)
            occupied = .allocate(capacity: TimerWheel.levels)
            occupied.initialize(repeating: 0, count: TimerWheel.levels)
        }

        deinit {
            deadlines.deallocate()
            refKeys.deallocate()
            refDeadlines.deallocate()
            blockNext.deallocate()
            heads.deallocate()
            tails.deallocate()
            tailFill.deallocate()
            occupied.deallocate()
        }

        var bytes: Int {
            keyCapacity * 8 + blockCapacity * (TimerWheel.blockSize * 12 + 4) + TimerWheel.lists * 12
                + TimerWheel.levels * 8
        }

        /// Capacity for `n` keys.
        func reserveKeys(_ n: Int) {
            guard n > keyCapacity else { return }
            let fresh = UnsafeMutablePointer<Int64>.allocate(capacity: n)
            fresh.moveInitialize(from: deadlines, count: keyCount)
            deadlines.deallocate()
            deadlines = fresh
            keyCapacity = n
        }

        /// Keys below `minimum` exist; new ones have no timer.
        func growKeys(to minimum: Int) {
            // 1.5x: the key table is most of the wheel's memory, and keys come one by one.
            if minimum > keyCapacity { reserveKeys(max(minimum, keyCapacity + keyCapacity / 2)) }
            if minimum > keyCount {
                (deadlines + keyCount).initialize(repeating: TimerWheel.unarmed, count: minimum - keyCount)
                keyCount = minimum
            }
        }

        func reserveBlocks(_ minimum: Int) {
            guard minimum > blockCapacity else { return }
            let n = minimum
            let k = UnsafeMutablePointer<UInt32>.allocate(capacity: n * TimerWheel.blockSize)
            k.moveInitialize(from: refKeys, count: blockCount * TimerWheel.blockSize)
            refKeys.deallocate()
            refKeys = k
            let d = UnsafeMutablePointer<Int64>.allocate(capacity: n * TimerWheel.blockSize)
            d.moveInitialize(from: refDeadlines, count: blockCount * TimerWheel.blockSize)
            refDeadlines.deallocate()
            refDeadlines = d
            let next = UnsafeMutablePointer<Int32>.allocate(capacity: n)
            next.moveInitialize(from: blockNext, count: blockCount)
            blockNext.deallocate()
            blockNext = next
            blockCapacity = n
        }

        /// A block from the free list, or a fresh one.
        func takeBlock() -> Int32 {
            if freeBlock >= 0 {
                let b = freeBlock
                freeBlock = blockNext[Int(b)]
                return b
            }
            if blockCount == blockCapacity { reserveBlocks(blockCapacity + blockCapacity / 2 + 16) }
            let b = Int32(blockCount)
            (refKeys + blockCount * TimerWheel.blockSize).initialize(repeating: 0, count: TimerWheel.blockSize)
            (refDeadlines + blockCount * TimerWheel.blockSize).initialize(repeating: 0, count: TimerWheel.blockSize)
            (blockNext + blockCount).initialize(to: -1)
            blockCount += 1
            return b
        }

        func releaseBlock(_ b: Int32) {
            blockNext[Int(b)] = freeBlock
            freeBlock = b
        }

        /// Appends a reference at the tail of `list`.
        func append(_ key: UInt32, _ deadline: Int64, to list: Int) {
            var tail = tails[list]
            var fill = Int(tailFill[list])
            if tail < 0 || fill == TimerWheel.blockSize {
                let b = takeBlock()
                blockNext[Int(b)] = -1
                if tail < 0 { heads[list] = b } else { blockNext[Int(tail)] = b }
                tails[list] = b
                tail = b
                fill = 0
            }
            let p = Int(tail) * TimerWheel.blockSize + fill
            refKeys[p] = key
            refDeadlines[p] = deadline
            tailFill[list] = Int32(fill + 1)
        }

        /// Detaches `list`'s chain: its first block and the fill of its last.
        func take(_ list: Int) -> (head: Int32, tailFill: Int) {
            let taken = (heads[list], Int(tailFill[list]))
            heads[list] = -1
            tails[list] = -1
            tailFill[list] = 0
            return taken
        }

        func copy() -> Storage {
            let other = Storage(keys: keyCapacity, blocks: blockCapacity)
            other.deadlines.initialize(from: deadlines, count: keyCount)
            other.keyCount = keyCount
            other.refKeys.initialize(from: refKeys, count: blockCount * TimerWheel.blockSize)
            other.refDeadlines.initialize(from: refDeadlines, count: blockCount * TimerWheel.blockSize)
            other.blockNext.initialize(from: blockNext, count: blockCount)
            other.blockCount = blockCount
            other.freeBlock = freeBlock
            other.heads.update(from: heads, count: TimerWheel.lists)
            other.tails.update(from: tails, count: TimerWheel.lists)
            other.tailFill.update(from: tailFill, count: TimerWheel.lists)
            other.occupied.update(from: occupied, count: TimerWheel.levels)
            return other
        }
    }

    private var storage = Storage(keys: 16, blocks: 4)
    /// References whose deadline is no longer their key's.
    private var stale = 0

    /// The wheel's current time: every timer due at or before it has fired.
    public private(set) var elapsed: Int64
    /// Timers armed (keys with a timer).
    public private(set) var count = 0

    /// Creates an empty wheel whose time is `now` (milliseconds).
    public init(now: Int64) {
        elapsed = now
    }

    /// Bytes of storage per timer at full occupancy: the key's deadline and one reference.
    public static let bytesPerTimer = 8 + 12

    /// Bytes held by the wheel (capacity, including free blocks and the key table).
    public var storageBytes: Int { storage.bytes }

    /// Reserves room for `n` keys, each with a timer.
    public mutating func reserveCapacity(_ n: Int) {
        makeUnique()
        storage.reserveKeys(n)
        storage.reserveBlocks(n / Self.blockSize + Self.lists)
    }

    /// Copy on write: a copied wheel gets its own storage before either changes.
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// Arms `key`'s timer for `deadline` (ms), replacing the one it had; a deadline
    /// already passed fires on the next ``advance(to:_:)``.
    public mutating func schedule(_ key: UInt32, at deadline: Int64) {
        precondition(deadline != Self.unarmed, "deadline out of range")
        makeUnique()
        let s = storage
        if Int(key) >= s.keyCount { s.growKeys(to: Int(key) + 1) }
        let old = s.deadlines[Int(key)]
        guard old != deadline else { return }
        if old == Self.unarmed { count += 1 } else { stale += 1 }
        s.deadlines[Int(key)] = deadline
        place(key, deadline)
        if stale > count / 2 + 1_024 { reclaim() }
    }

    /// Disarms `key`'s timer; false when it had none.
    @discardableResult
    public mutating func cancel(_ key: UInt32) -> Bool {
        guard Int(key) < storage.keyCount, storage.deadlines[Int(key)] != Self.unarmed else { return false }
        makeUnique()
        storage.deadlines[Int(key)] = Self.unarmed
        count -= 1
        stale += 1
        if stale > count / 2 + 1_024 { reclaim() }
        return true
    }

    /// The deadline of `key`'s timer, nil when it has none.
    public func deadline(of key: UInt32) -> Int64? {
        guard Int(key) < storage.keyCount else { return nil }
        let d = storage.deadlines[Int(key)]
        return d == Self.unarmed ? nil : d
    }

    /// When the wheel next needs to be advanced: the earliest deadline, or an
    /// earlier instant at which a higher-level slot cascades or a slot holding only
    /// stale references is reclaimed. Nil when no timer is armed.
    public func nextWakeup() -> Int64? {
        guard count > 0 else { return nil }
        if storage.heads[Self.lateList] >= 0 { return elapsed }
        return nextOccupied()?.time
    }

    /// Advances the wheel's time to `now`, calling `fire` for every timer whose
    /// deadline is at or before `now`, in deadline order. Time never goes
    /// backwards: an earlier `now` fires nothing. A fired key has no timer until
    /// it is scheduled again.
    public mutating func advance(to now: Int64, _ fire: (_ key: UInt32, _ deadline: Int64) -> Void) {
        makeUnique()
        let s = storage
        if s.heads[Self.lateList] >= 0 {
            // Timers armed after their deadline: few, fired oldest first.
            var late: [(key: UInt32, deadline: Int64)] = []
            forEachReference(in: Self.lateList) { key, deadline in
                if s.deadlines[Int(key)] == deadline {
                    s.deadlines[Int(key)] = Self.unarmed
                    count -= 1
                    late.append((key, deadline))
                } else {
                    dropStale()
                }
            }
            late.sort { ($0.deadline, $0.key) < ($1.deadline, $1.key) }
            for t in late { fire(t.key, t.deadline) }
        }
        guard now > elapsed else { return }
        while let (level, slot, time) = nextOccupied(), time <= now {
            elapsed = time
            s.occupied[level] &= ~(1 << UInt64(slot))
            // Take the whole slot, then fire or cascade each reference relative to the new time.
            forEachReference(in: level * Self.slotsPerLevel + slot) { key, deadline in
                if deadline > time {
                    // Cascading needs no look at the key: a stale reference moves down as one, and is
                    // dropped when its deadline comes.
                    place(key, deadline)
                } else if s.deadlines[Int(key)] == deadline {
                    s.deadlines[Int(key)] = Self.unarmed
                    count -= 1
                    fire(key, deadline)
                } else {
                    dropStale()
                }
            }
        }
        elapsed = now
    }

    // MARK: - Internals

    /// A stale reference was dropped. A key armed, moved and armed back to its first deadline
    /// has two live-looking references; a reclaim that checks references keeps both and
    /// counts neither, so the one dropped later was never counted: hence the floor at zero.
    private mutating func dropStale() {
        stale = max(0, stale - 1)
    }

    /// Detaches `list` and visits each of its references in order, releasing each block
    /// once read (so cascading into other lists reuses it).
    private func forEachReference(in list: Int, _ body: (UInt32, Int64) -> Void) {
        let s = storage
        let (head, lastFill) = s.take(list)
        var b = head
        while b >= 0 {
            let next = s.blockNext[Int(b)]
            let n = next >= 0 ? Self.blockSize : lastFill
            let base = Int(b) * Self.blockSize
            for p in base..<(base + n) { body(s.refKeys[p], s.refDeadlines[p]) }
            s.releaseBlock(b)
            b = next
        }
    }

    /// Appends a reference to the list its deadline belongs to, relative to `elapsed`.
    private mutating func place(_ key: UInt32, _ deadline: Int64) {
        let s = storage
        guard deadline > elapsed else {
            s.append(key, deadline, to: Self.lateList)
            return
        }
        let level = Self.level(for: deadline, elapsed: elapsed)
        let slot = Int((deadline >> (Int64(level) * Self.slotBits)) & 63)
        s.append(key, deadline, to: level * Self.slotsPerLevel + slot)
        s.occupied[level] |= 1 << UInt64(slot)
    }

    /// The level of a deadline: the highest 6-bit group where it differs from `elapsed`.
    static func level(for deadline: Int64, elapsed: Int64) -> Int {
        let masked = UInt64(bitPattern: elapsed ^ deadline) | 63
        let significant = 63 - masked.leadingZeroBitCount
        return min(significant / Int(slotBits), levels - 1)
    }

    /// Drops the stale references, the cheaper of two ways. Checking a reference reads its key's
    /// word, a cache miss in a large wheel (about 12 ns here); when most keys have a timer, it
    /// is cheaper to forget every list and place each armed key again, reading the key table
    /// in order (measured: docs/benchmarks.md). With many keys and few timers (a daemon's
    /// closed incidents keep their index), checking the references is.
    private mutating func reclaim() {
        if storage.keyCount <= 2 * (count + stale) { rebuild() } else { sweep() }
        stale = 0
    }

    /// Every list emptied and every armed key placed again, in key order.
    private mutating func rebuild() {
        let s = storage
        for list in 0..<Self.lists {
            s.heads[list] = -1
            s.tails[list] = -1
            s.tailFill[list] = 0
        }
        for level in 0..<Self.levels { s.occupied[level] = 0 }
        // All blocks free, handed out in ascending order.
        s.freeBlock = -1
        var b = Int32(s.blockCount) - 1
        while b >= 0 {
            s.releaseBlock(b)
            b -= 1
        }
        for key in 0..<s.keyCount where s.deadlines[key] != Self.unarmed {
            place(UInt32(key), s.deadlines[key])
        }
    }

    /// Compacts every list to its live references, in place, and frees the blocks left over.
    /// Amortized: it runs once stale references pass half the live count. Each reference's
    /// key is read once, and nothing branches on what it holds — the write position simply
    /// advances by 0 or 1 — so the processor overlaps those reads instead of stalling on a
    /// mispredicted branch for every stale one (measured: the branching loop was most of (a)).
    private mutating func sweep() {
        let s = storage
        var chain: [Int32] = []
        for list in 0..<Self.lists where s.heads[list] >= 0 {
            chain.removeAll(keepingCapacity: true)
            var b = s.heads[list]
            while b >= 0 {
                chain.append(b)
                b = s.blockNext[Int(b)]
            }
            let total = (chain.count - 1) * Self.blockSize + Int(s.tailFill[list])
            var w = 0
            chain.withUnsafeBufferPointer { blocks in
                for r in 0..<total {
                    let p = Int(blocks[r >> Self.blockShift]) * Self.blockSize + (r & (Self.blockSize - 1))
                    let key = s.refKeys[p]
                    let deadline = s.refDeadlines[p]
                    let q = Int(blocks[w >> Self.blockShift]) * Self.blockSize + (w & (Self.blockSize - 1))
                    s.refKeys[q] = key
                    s.refDeadlines[q] = deadline
                    w &+= s.deadlines[Int(key)] == deadline ? 1 : 0
                }
            }
            // Blocks past the last live reference go back to the free list.
            let kept = (w + Self.blockSize - 1) / Self.blockSize
            for k in kept..<chain.count { s.releaseBlock(chain[k]) }
            if kept == 0 {
                _ = s.take(list)
                if list != Self.lateList {
                    s.occupied[list / Self.slotsPerLevel] &= ~(1 << UInt64(list % Self.slotsPerLevel))
                }
            } else {
                s.blockNext[Int(chain[kept - 1])] = -1
                s.tails[list] = chain[kept - 1]
                s.tailFill[list] = Int32(w - (kept - 1) * Self.blockSize)
            }
        }
    }

    private func nextOccupied() -> (level: Int, slot: Int, time: Int64)? {
        for level in 0..<Self.levels {
            if let found = nextOccupied(level: level) { return (level, found.slot, found.time) }
        }
        return nil
    }

    private func nextOccupied(level: Int) -> (slot: Int, time: Int64)? {
        let bits = storage.occupied[level]
        guard bits != 0 else { return nil }
        let shift = Int64(level) * Self.slotBits
        let slotRange: Int64 = 1 << shift
        let levelRange: Int64 = slotRange << Self.slotBits
        let current = Int((elapsed >> shift) & 63)
        // Rotate so the current slot is bit 0; the first set bit is the next occupied slot.
        let distance = bits.rotatedRight(by: current).trailingZeroBitCount
        let slot = (current + distance) % Self.slotsPerLevel
        var time = (elapsed & ~(levelRange - 1)) + Int64(slot) * slotRange
        // Only the top level can hold a slot behind the current one (deadlines
        // beyond its range): it belongs to the next turn of that level.
        if time <= elapsed { time += levelRange }
        return (slot, time)
    }
}

extension UInt64 {
    func rotatedRight(by n: Int) -> UInt64 {
        let k = UInt64(n & 63)
        return k == 0 ? self : (self >> k) | (self << (64 - k))
    }
}
