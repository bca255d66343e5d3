import CPrefetch

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
/// timer's name there is no handle for the caller to keep and look up. Each key
/// has one 8-byte word, its deadline. A slot holds references — key and deadline,
/// 12 bytes — in blocks appended at its tail; a reference is live while its
/// deadline is still the key's. Moving or cancelling a timer therefore leaves its
/// old reference behind, reclaimed when its slot is taken or, once stale
/// references outnumber the live timers, all at once (``reclaim()``).
///
/// Why updates are queued: in a large wheel the key's word is a cache miss, and
/// an operation that waits for it spends most of its time waiting. So `schedule`
/// and `cancel` only append to a short queue
/// (and `schedule` places its reference, which needs no key); the queue is applied
/// to the key words when it is full or before anything reads them, in a tight
/// loop that asks for each key's line well before it gets there. Reads
/// (``count``, ``deadline(of:)``, ``nextWakeup()``) see queued updates too.
///
/// Not copyable: a copy would need the whole storage copied, and the hot path
/// would pay a uniqueness check on every call. A caller that needs a value copy
/// makes one explicitly (``copy()``). Time is a value passed in (milliseconds
/// since the epoch); the wheel never reads a clock.
public struct TimerWheel: ~Copyable {
    @usableFromInline static let levels = 8
    @usableFromInline static let slotBits: Int64 = 6
    @usableFromInline static let slotsPerLevel = 64
    /// Slot lists, plus one for references armed at or before the wheel's time.
    @usableFromInline static let lists = levels * slotsPerLevel + 1
    @usableFromInline static let lateList = levels * slotsPerLevel
    /// References per block: large enough that appends run through memory in order,
    /// small enough that a few hundred part-filled slots cost little.
    @usableFromInline static let blockSize = 32
    @usableFromInline static let blockShift = 5
    /// Queued key updates: enough to ask for each key's line far ahead, few enough
    /// to stay in the first-level cache.
    @usableFromInline static let queueCapacity = 4_096
    /// How far ahead (in queued updates) applying the queue asks for a key's line.
    @usableFromInline static let prefetchDistance = 64
    /// Cascaded this close (ms) to its deadline, a reference's key is asked for ahead of firing.
    static let soon: Int64 = 4_096
    /// A key's deadline when it has no timer.
    @usableFromInline static let unarmed = Int64.min

    // Everything in manually grown buffers held by the struct itself: no array's
    // uniqueness and bounds checks, no storage object to retain, on the hot path.

    /// Per key: its timer's deadline, or `unarmed` (as of the last applied update).
    @usableFromInline var deadlines: UnsafeMutablePointer<Int64>
    @usableFromInline var keyCount = 0
    @usableFromInline var keyCapacity: Int
    /// References, `blockSize` per block: the key and the deadline it was armed for.
    @usableFromInline var refKeys: UnsafeMutablePointer<UInt32>
    @usableFromInline var refDeadlines: UnsafeMutablePointer<Int64>
    /// Per block: the next block of its list (or of the free list), -1 at the end.
    @usableFromInline var blockNext: UnsafeMutablePointer<Int32>
    @usableFromInline var blockCount = 0
    @usableFromInline var blockCapacity: Int
    @usableFromInline var freeBlock: Int32 = -1
    /// Per list: first and last block (-1 when empty) and the references in the last
    /// (every other block of a list is full).
    @usableFromInline let heads: UnsafeMutablePointer<Int32>
    @usableFromInline let tails: UnsafeMutablePointer<Int32>
    @usableFromInline let tailFill: UnsafeMutablePointer<Int32>
    /// Occupancy bitmap per level.
    @usableFromInline let occupied: UnsafeMutablePointer<UInt64>
    /// Key updates not yet applied to `deadlines`: the key and its new deadline (or `unarmed`).
    @usableFromInline let queuedKeys: UnsafeMutablePointer<UInt32>
    @usableFromInline let queuedDeadlines: UnsafeMutablePointer<Int64>
    @usableFromInline var queued = 0
    /// References whose deadline is no longer their key's (as of the last applied update).
    @usableFromInline var stale = 0
    /// Keys with a timer, as of the last applied update.
    @usableFromInline var armed = 0

    /// The wheel's current time: every timer due at or before it has fired.
    public private(set) var elapsed: Int64

    /// Creates an empty wheel whose time is `now` (milliseconds).
    public init(now: Int64) {
        elapsed = now
        keyCapacity = 16
        blockCapacity = 4
        deadlines = .allocate(capacity: keyCapacity)
        refKeys = .allocate(capacity: blockCapacity * Self.blockSize)
        refDeadlines = .allocate(capacity: blockCapacity * Self.blockSize)
        blockNext = .allocate(capacity: blockCapacity)
        heads = .allocate(capacity: Self.lists)
        heads.initialize(repeating: -1, count: Self.lists)
        tails = .allocate(capacity: Self.lists)
        tails.initialize(repeating: -1, count: Self.lists)
        tailFill = .allocate(capacity: Self.lists)
        tailFill.initialize(repeating: 0, count: Self.lists)
        occupied = .allocate(capacity: Self.levels)
        occupied.initialize(repeating: 0, count: Self.levels)
        queuedKeys = .allocate(capacity: Self.queueCapacity)
        queuedDeadlines = .allocate(capacity: Self.queueCapacity)
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
        queuedKeys.deallocate()
        queuedDeadlines.deallocate()
    }

    /// An independent wheel with the same timers and time.
    public func copy() -> TimerWheel {
        var other = TimerWheel(now: elapsed)
        other.reserveKeys(keyCapacity)
        other.deadlines.initialize(from: deadlines, count: keyCount)
        other.keyCount = keyCount
        other.reserveBlocks(blockCapacity)
        other.refKeys.initialize(from: refKeys, count: blockCount * Self.blockSize)
        other.refDeadlines.initialize(from: refDeadlines, count: blockCount * Self.blockSize)
        other.blockNext.initialize(from: blockNext, count: blockCount)
        other.blockCount = blockCount
        other.freeBlock = freeBlock
        other.heads.update(from: heads, count: Self.lists)
        other.tails.update(from: tails, count: Self.lists)
        other.tailFill.update(from: tailFill, count: Self.lists)
        other.occupied.update(from: occupied, count: Self.levels)
        other.queuedKeys.initialize(from: queuedKeys, count: queued)
        other.queuedDeadlines.initialize(from: queuedDeadlines, count: queued)
        other.queued = queued
        other.stale = stale
        other.armed = armed
        return other
    }

    /// Bytes of storage per timer at full occupancy: the key's deadline and one reference.
    public static let bytesPerTimer = 8 + 12

    /// Bytes held by the wheel (capacity, including free blocks, the key table and the queue).
    public var storageBytes: Int {
        keyCapacity * 8 + blockCapacity * (Self.blockSize * 12 + 4) + Self.lists * 12 + Self.levels * 8
            + Self.queueCapacity * 12
    }

    /// Reserves room for `n` keys, each with a timer.
    public mutating func reserveCapacity(_ n: Int) {
        reserveKeys(n)
        reserveBlocks(n / Self.blockSize + Self.lists)
    }

    /// Arms `key`'s timer for `deadline` (ms), replacing the one it had; a deadline
    /// already passed fires on the next ``advance(to:_:)``.
    @inlinable
    public mutating func schedule(_ key: UInt32, at deadline: Int64) {
        precondition(deadline != Self.unarmed, "deadline out of range")
        if Int(key) >= keyCount { growKeys(to: Int(key) + 1) }
        // Placed before it is queued: a full queue is applied at once and may rebuild every
        // list from the key table, which then holds this timer, placed once.
        place(key, deadline)
        enqueue(key, deadline)
    }

    /// Disarms `key`'s timer, if it has one.
    @inlinable
    public mutating func cancel(_ key: UInt32) {
        guard Int(key) < keyCount else { return }
        enqueue(key, Self.unarmed)
    }

    /// Applies the queued key updates now. Nothing needs it (every read sees queued
    /// updates, ``advance(to:_:)`` applies them first); a caller about to go idle may
    /// call it so that the next operation starts with an empty queue.
    public mutating func settle() {
        guard queued > 0 else { return }
        applyQueue()
    }

    /// Timers armed (keys with a timer).
    public var count: Int {
        guard queued > 0 else { return armed }
        // Rare (status reads): replay the queue over the keys' last applied states.
        var latest: [UInt32: Int64] = [:]
        var n = armed
        for i in 0..<queued {
            let key = queuedKeys[i]
            let before = latest[key] ?? deadlines[Int(key)]
            let after = queuedDeadlines[i]
            n += (after != Self.unarmed ? 1 : 0) - (before != Self.unarmed ? 1 : 0)
            latest[key] = after
        }
        return n
    }

    /// The deadline of `key`'s timer, nil when it has none.
    public func deadline(of key: UInt32) -> Int64? {
        guard Int(key) < keyCount else { return nil }
        var d = deadlines[Int(key)]
        var i = queued - 1
        while i >= 0 {
            if queuedKeys[i] == key {
                d = queuedDeadlines[i]
                break
            }
            i -= 1
        }
        return d == Self.unarmed ? nil : d
    }

    /// When the wheel next needs to be advanced: the earliest deadline, or an
    /// earlier instant at which a higher-level slot cascades or a slot holding only
    /// stale references is reclaimed. Nil when no timer is armed.
    public func nextWakeup() -> Int64? {
        guard count > 0 else { return nil }
        if heads[Self.lateList] >= 0 { return elapsed }
        return nextOccupied()?.time
    }

    /// Advances the wheel's time to `now`, calling `fire` for every timer whose
    /// deadline is at or before `now`, in deadline order. Time never goes
    /// backwards: an earlier `now` fires nothing. A fired key has no timer until
    /// it is scheduled again.
    public mutating func advance(to now: Int64, _ fire: (_ key: UInt32, _ deadline: Int64) -> Void) {
        settle()
        if heads[Self.lateList] >= 0 {
            // Timers armed after their deadline: few, fired oldest first.
            var late: [(key: UInt32, deadline: Int64)] = []
            Self.visit(&self, Self.lateList) { wheel, key, deadline in
                if wheel.claim(key, deadline) { late.append((key, deadline)) }
            }
            late.sort { ($0.deadline, $0.key) < ($1.deadline, $1.key) }
            for t in late { fire(t.key, t.deadline) }
        }
        guard now > elapsed else { return }
        while let (level, slot, time) = Self.nextOccupied(occupied, elapsed: elapsed), time <= now {
            elapsed = time
            occupied[level] &= ~(1 << UInt64(slot))
            // Take the whole slot, then fire or cascade each reference relative to the new time.
            Self.visit(&self, level * Self.slotsPerLevel + slot) { wheel, key, deadline in
                if deadline > time {
                    // Cascading needs no look at the key: a stale reference moves down as one, and
                    // is dropped when its deadline comes. Due within seconds, it will be checked
                    // against its key soon: the key's line is asked for now, so that firing, one
                    // slot after another, does not wait for each key in turn.
                    if deadline &- time < Self.soon { slad_prefetch_for_write(wheel.deadlines + Int(key)) }
                    wheel.cascade(key, deadline)
                } else if wheel.claim(key, deadline) {
                    fire(key, deadline)
                }
            }
        }
        elapsed = now
    }

    // MARK: - Hot path

    @inlinable @inline(__always)
    mutating func enqueue(_ key: UInt32, _ deadline: Int64) {
        queuedKeys[queued] = key
        queuedDeadlines[queued] = deadline
        queued &+= 1
        if queued == Self.queueCapacity { applyQueue() }
    }

    /// Appends a reference to the list its deadline belongs to, relative to `elapsed`.
    @inlinable @inline(__always)
    mutating func place(_ key: UInt32, _ deadline: Int64) {
        guard deadline > elapsed else {
            append(key, deadline, to: Self.lateList)
            return
        }
        let level = Self.level(for: deadline, elapsed: elapsed)
        let slot = Int((deadline >> (Int64(level) &* Self.slotBits)) & 63)
        append(key, deadline, to: level &* Self.slotsPerLevel &+ slot)
        occupied[level] |= 1 << UInt64(slot)
    }

    /// `place`, out of line: inlined into the loop that fires a slot, it makes that loop
    /// large enough that fewer of its key reads (cache misses) overlap.
    @inline(never)
    mutating func cascade(_ key: UInt32, _ deadline: Int64) {
        place(key, deadline)
    }

    /// The level of a deadline: the highest 6-bit group where it differs from `elapsed`.
    @inlinable @inline(__always)
    static func level(for deadline: Int64, elapsed: Int64) -> Int {
        let masked = UInt64(bitPattern: elapsed ^ deadline) | 63
        let significant = 63 &- masked.leadingZeroBitCount
        return min(significant / Int(slotBits), levels &- 1)
    }

    /// Appends a reference at the tail of `list`.
    @inlinable @inline(__always)
    mutating func append(_ key: UInt32, _ deadline: Int64, to list: Int) {
        let fill = Int(tailFill[list])
        let p: Int
        if fill == Self.blockSize || tails[list] < 0 {
            p = newTail(list)
        } else {
            p = Int(tails[list]) &* Self.blockSize &+ fill
        }
        // A tail's next lines are usually not cached (blocks come from far away in
        // memory): asking for them a line ahead keeps the stores from waiting.
        slad_prefetch_for_write(refDeadlines + (p &+ 16))
        slad_prefetch_for_write(refKeys + (p &+ 32))
        refKeys[p] = key
        refDeadlines[p] = deadline
        tailFill[list] &+= 1
    }

    // MARK: - Internals

    /// Applies the queued key updates to the key table, counting the references they
    /// leave stale, then reclaims stale references when they outnumber the live timers.
    @usableFromInline @inline(never)
    mutating func applyQueue() {
        var n = armed
        var st = stale
        let count = queued
        for i in 0..<count {
            // The key table is larger than the caches: ask for a later key's line now, so
            // that it has arrived when the loop gets there.
            if i &+ Self.prefetchDistance < count {
                slad_prefetch_for_write(deadlines + Int(queuedKeys[i &+ Self.prefetchDistance]))
            }
            let key = Int(queuedKeys[i])
            let new = queuedDeadlines[i]
            let old = deadlines[key]
            deadlines[key] = new
            let wasArmed = old != Self.unarmed ? 1 : 0
            n &+= (new != Self.unarmed ? 1 : 0) &- wasArmed
            // The old timer's reference is stale now; re-armed at the same deadline, the new
            // reference is a second one for it, and one of the two is stale.
            st &+= wasArmed
        }
        queued = 0
        armed = n
        stale = st
        if stale > armed + 1_024 { reclaim() }
    }

    /// Keys below `minimum` exist; new ones have no timer.
    @usableFromInline @inline(never)
    mutating func growKeys(to minimum: Int) {
        // 1.5x: the key table is most of the wheel's memory, and keys come one by one.
        if minimum > keyCapacity { reserveKeys(max(minimum, keyCapacity + keyCapacity / 2)) }
        if minimum > keyCount {
            (deadlines + keyCount).initialize(repeating: Self.unarmed, count: minimum - keyCount)
            keyCount = minimum
        }
    }

    /// Capacity for `n` keys.
    mutating func reserveKeys(_ n: Int) {
        guard n > keyCapacity else { return }
        let fresh = UnsafeMutablePointer<Int64>.allocate(capacity: n)
        fresh.moveInitialize(from: deadlines, count: keyCount)
        deadlines.deallocate()
        deadlines = fresh
        keyCapacity = n
    }

    mutating func reserveBlocks(_ minimum: Int) {
        guard minimum > blockCapacity else { return }
        let n = minimum
        let k = UnsafeMutablePointer<UInt32>.allocate(capacity: n * Self.blockSize)
        k.moveInitialize(from: refKeys, count: blockCount * Self.blockSize)
        refKeys.deallocate()
        refKeys = k
        let d = UnsafeMutablePointer<Int64>.allocate(capacity: n * Self.blockSize)
        d.moveInitialize(from: refDeadlines, count: blockCount * Self.blockSize)
        refDeadlines.deallocate()
        refDeadlines = d
        let next = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        next.moveInitialize(from: blockNext, count: blockCount)
        blockNext.deallocate()
        blockNext = next
        blockCapacity = n
    }

    /// A block from the free list, or a fresh one.
    mutating func takeBlock() -> Int32 {
        if freeBlock >= 0 {
            let b = freeBlock
            freeBlock = blockNext[Int(b)]
            return b
        }
        if blockCount == blockCapacity { reserveBlocks(blockCapacity + blockCapacity / 2 + 16) }
        let b = Int32(blockCount)
        (refKeys + blockCount * Self.blockSize).initialize(repeating: 0, count: Self.blockSize)
        (refDeadlines + blockCount * Self.blockSize).initialize(repeating: 0, count: Self.blockSize)
        (blockNext + blockCount).initialize(to: -1)
        blockCount += 1
        return b
    }

    mutating func releaseBlock(_ b: Int32) {
        blockNext[Int(b)] = freeBlock
        freeBlock = b
    }

    /// Starts a new last block for `list`; returns the position of its first reference.
    @usableFromInline @inline(never)
    mutating func newTail(_ list: Int) -> Int {
        let tail = tails[list]
        let b = takeBlock()
        blockNext[Int(b)] = -1
        if tail < 0 { heads[list] = b } else { blockNext[Int(tail)] = b }
        tails[list] = b
        tailFill[list] = 0
        return Int(b) * Self.blockSize
    }

    /// Detaches `list`'s chain: its first block and the fill of its last.
    mutating func take(_ list: Int) -> (head: Int32, tailFill: Int) {
        let taken = (heads[list], Int(tailFill[list]))
        heads[list] = -1
        tails[list] = -1
        tailFill[list] = 0
        return taken
    }

    /// A reference whose time has come: true when it is its key's timer, which is then
    /// disarmed (the caller fires it); false when it is stale, and it is dropped.
    mutating func claim(_ key: UInt32, _ deadline: Int64) -> Bool {
        guard deadlines[Int(key)] == deadline else {
            dropStale()
            return false
        }
        deadlines[Int(key)] = Self.unarmed
        armed -= 1
        return true
    }

    /// A stale reference was dropped. A key armed, moved and armed back to its first deadline
    /// has two live-looking references; a reclaim that checks references keeps both and
    /// counts neither, so the one dropped later was never counted: hence the floor at zero.
    mutating func dropStale() {
        stale = max(0, stale - 1)
    }

    /// Detaches `list` and visits each of its references in order, releasing each block
    /// once read (so cascading into other lists reuses it). Static, with the wheel passed
    /// in and out: the visit may place references and change counts as it goes.
    static func visit(_ wheel: inout TimerWheel, _ list: Int, _ body: (inout TimerWheel, UInt32, Int64) -> Void) {
        let (head, lastFill) = wheel.take(list)
        var b = head
        while b >= 0 {
            let next = wheel.blockNext[Int(b)]
            let n = next >= 0 ? Self.blockSize : lastFill
            let base = Int(b) * Self.blockSize
            for p in base..<(base + n) { body(&wheel, wheel.refKeys[p], wheel.refDeadlines[p]) }
            wheel.releaseBlock(b)
            b = next
        }
    }

    /// Drops the stale references, the cheaper of two ways. Checking a reference reads its key's
    /// word, a cache miss in a large wheel (about 12 ns here); when most keys have a timer, it
    /// is cheaper to forget every list and place each armed key again, reading the key table
    /// in order. With many keys and few timers (a daemon's closed incidents keep their
    /// index), checking the references is.
    mutating func reclaim() {
        if keyCount <= 2 * (armed + stale) { rebuild() } else { sweep() }
        stale = 0
    }

    /// Every list emptied and every armed key placed again, in key order.
    mutating func rebuild() {
        for list in 0..<Self.lists {
            heads[list] = -1
            tails[list] = -1
            tailFill[list] = 0
        }
        for level in 0..<Self.levels { occupied[level] = 0 }
        // All blocks free, handed out in ascending order.
        freeBlock = -1
        var b = Int32(blockCount) - 1
        while b >= 0 {
            releaseBlock(b)
            b -= 1
        }
        for key in 0..<keyCount where deadlines[key] != Self.unarmed {
            place(UInt32(key), deadlines[key])
        }
    }

    /// Compacts every list to its live references, in place, and frees the blocks left over.
    /// Each reference's key is read once, and nothing branches on what it holds — the write
    /// position simply advances by 0 or 1 — so the processor overlaps those reads instead of
    /// stalling on a mispredicted branch for every stale one.
    mutating func sweep() {
        var chain: [Int32] = []
        for list in 0..<Self.lists where heads[list] >= 0 {
            chain.removeAll(keepingCapacity: true)
            var b = heads[list]
            while b >= 0 {
                chain.append(b)
                b = blockNext[Int(b)]
            }
            let total = (chain.count - 1) * Self.blockSize + Int(tailFill[list])
            var w = 0
            chain.withUnsafeBufferPointer { blocks in
                for r in 0..<total {
                    let p = Int(blocks[r >> Self.blockShift]) * Self.blockSize + (r & (Self.blockSize - 1))
                    let key = refKeys[p]
                    let deadline = refDeadlines[p]
                    let q = Int(blocks[w >> Self.blockShift]) * Self.blockSize + (w & (Self.blockSize - 1))
                    refKeys[q] = key
                    refDeadlines[q] = deadline
                    w &+= deadlines[Int(key)] == deadline ? 1 : 0
                }
            }
            // Blocks past the last live reference go back to the free list.
            let kept = (w + Self.blockSize - 1) / Self.blockSize
            for k in kept..<chain.count { releaseBlock(chain[k]) }
            if kept == 0 {
                _ = take(list)
                if list != Self.lateList {
                    occupied[list / Self.slotsPerLevel] &= ~(1 << UInt64(list % Self.slotsPerLevel))
                }
            } else {
                blockNext[Int(chain[kept - 1])] = -1
                tails[list] = chain[kept - 1]
                tailFill[list] = Int32(w - (kept - 1) * Self.blockSize)
            }
        }
    }

    func nextOccupied() -> (level: Int, slot: Int, time: Int64)? {
        Self.nextOccupied(occupied, elapsed: elapsed)
    }

    /// The next occupied slot after `elapsed`. Static, on the bitmaps alone: as a method it
    /// made the firing loop copy the whole wheel for every slot it took.
    static func nextOccupied(_ occupied: UnsafeMutablePointer<UInt64>, elapsed: Int64) -> (
        level: Int, slot: Int, time: Int64
    )? {
        for level in 0..<Self.levels {
            let bits = occupied[level]
            guard bits != 0 else { continue }
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
            return (level, slot, time)
        }
        return nil
    }
}

// The buffers are owned by the wheel alone (it cannot be copied), and every mutation
// needs exclusive (`mutating`) access.
extension TimerWheel: @unchecked Sendable {}

extension UInt64 {
    func rotatedRight(by n: Int) -> UInt64 {
        let k = UInt64(n & 63)
        return k == 0 ? self : (self >> k) | (self << (64 - k))
    }
}
