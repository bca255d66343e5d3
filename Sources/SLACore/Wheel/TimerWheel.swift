/// A hierarchical timer wheel with millisecond resolution (Varghese & Lauck;
/// laid out like tokio's and the post-2016 Linux wheel).
///
/// Eight levels of 64 slots each cover 64⁸ ms (about 8,900 years). A timer
/// sits at the level of the highest 6-bit group in which its deadline differs
/// from the wheel's current time, so the lowest occupied level always holds the
/// earliest timers; advancing cascades a higher-level slot down when its time
/// comes. Insert and cancel are O(1); finding the next occupied slot is a
/// bitmap scan per level, so an idle wheel needs no ticking at all.
///
/// Timers live in parallel arrays (a slab with a free list), linked into their
/// slot by index: no allocation per timer, 32 bytes each. Time is a value
/// passed in (milliseconds since the epoch); the wheel never reads a clock.
public struct TimerWheel: Sendable {
    /// Identifies a timer; stale after the timer fired or was cancelled.
    public struct Handle: Hashable, Sendable {
        let index: UInt32
        let generation: UInt32
    }

    static let levels = 8
    static let slotBits: Int64 = 6
    static let slotsPerLevel = 64
    /// `slot` value of a timer already due when inserted.
    static let expiredSlot: Int32 = -2
    /// `slot` value of a free entry.
    static let freeSlot: Int32 = -1

    /// One timer: 8 + 5 × 4 = 28 bytes of fields, 32 with alignment.
    struct Entry {
        var deadline: Int64
        var next: Int32
        var prev: Int32
        /// The list it is in (`level * 64 + slot`, ``expiredSlot``) or ``freeSlot``.
        var slot: Int32
        var generation: UInt32
        var payload: UInt32
    }

    /// Entries in one manually grown buffer: a Swift array per field would pay a
    /// uniqueness and bounds check on every access of the hot path (measured).
    final class Storage: @unchecked Sendable {
        var base: UnsafeMutablePointer<Entry>
        var count = 0
        var capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            base = .allocate(capacity: self.capacity)
        }

        deinit { base.deallocate() }

        func grow(to minimum: Int) {
            guard minimum > capacity else { return }
            let newCapacity = max(minimum, capacity * 2)
            let fresh = UnsafeMutablePointer<Entry>.allocate(capacity: newCapacity)
            fresh.moveInitialize(from: base, count: count)
            base.deallocate()
            base = fresh
            capacity = newCapacity
        }

        func copy() -> Storage {
            let other = Storage(capacity: capacity)
            other.base.initialize(from: base, count: count)
            other.count = count
            return other
        }
    }

    private var storage = Storage(capacity: 16)
    private var freeHead: Int32 = -1

    /// First timer of each slot (`level * 64 + slot`), -1 when empty.
    private var heads: [Int32]
    /// Occupancy bitmap per level.
    private var occupied: [UInt64]
    /// Timers due at or before `elapsed` that were inserted late, fired on the next advance.
    private var expiredHead: Int32 = -1

    /// The wheel's current time: every timer due at or before it has fired.
    public private(set) var elapsed: Int64
    /// Timers armed.
    public private(set) var count = 0

    /// Creates an empty wheel whose time is `now` (milliseconds).
    public init(now: Int64) {
        elapsed = now
        heads = Array(repeating: -1, count: Self.levels * Self.slotsPerLevel)
        occupied = Array(repeating: 0, count: Self.levels)
    }

    /// Bytes of storage per timer (the entry's stride).
    public static let bytesPerTimer = MemoryLayout<Entry>.stride

    /// Bytes held by the timer storage (capacity, including free entries).
    public var storageBytes: Int { storage.capacity * Self.bytesPerTimer + heads.capacity * 4 + occupied.capacity * 8 }

    /// Reserves room for `n` timers up front.
    public mutating func reserveCapacity(_ n: Int) {
        makeUnique()
        storage.grow(to: n)
    }

    /// Copy on write: a copied wheel gets its own entries before either changes.
    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    private var e: UnsafeMutablePointer<Entry> { storage.base }

    /// Arms a timer for `deadline` (ms) carrying `payload`; a deadline already
    /// passed fires on the next ``advance(to:_:)``.
    @discardableResult
    public mutating func insert(deadline: Int64, payload: UInt32) -> Handle {
        makeUnique()
        let index: Int32
        if freeHead >= 0 {
            index = freeHead
            freeHead = e[Int(index)].next
            e[Int(index)].deadline = deadline
            e[Int(index)].payload = payload
        } else {
            storage.grow(to: storage.count + 1)
            index = Int32(storage.count)
            (e + Int(index)).initialize(
                to: Entry(deadline: deadline, next: -1, prev: -1, slot: Self.freeSlot, generation: 0, payload: payload))
            storage.count += 1
        }
        count += 1
        place(index)
        return Handle(index: UInt32(index), generation: e[Int(index)].generation)
    }

    /// Disarms a timer; false when the handle is stale (fired, cancelled, reused).
    @discardableResult
    public mutating func cancel(_ handle: Handle) -> Bool {
        let i = Int(handle.index)
        guard i < storage.count, e[i].generation == handle.generation, e[i].slot != Self.freeSlot else { return false }
        makeUnique()
        unlink(Int32(i))
        release(Int32(i))
        return true
    }

    /// The deadline of a live timer.
    public func deadline(of handle: Handle) -> Int64? {
        let i = Int(handle.index)
        guard i < storage.count, e[i].generation == handle.generation, e[i].slot != Self.freeSlot else { return nil }
        return e[i].deadline
    }

    /// When the wheel next needs to be advanced: the earliest deadline, or an
    /// earlier instant at which a higher-level slot cascades. Nil when empty.
    public func nextWakeup() -> Int64? {
        if expiredHead >= 0 { return elapsed }
        return nextOccupied()?.time
    }

    /// Advances the wheel's time to `now`, calling `fire` for every timer whose
    /// deadline is at or before `now`, in deadline order within each millisecond
    /// slot. Time never goes backwards: an earlier `now` fires nothing.
    public mutating func advance(
        to now: Int64, _ fire: (_ handle: Handle, _ payload: UInt32, _ deadline: Int64) -> Void
    ) {
        if expiredHead >= 0 {
            // Timers armed after their deadline: few, fired oldest first.
            var late: [(handle: Handle, payload: UInt32, deadline: Int64)] = []
            while expiredHead >= 0 {
                let i = expiredHead
                unlink(i)
                late.append(
                    (Handle(index: UInt32(i), generation: e[Int(i)].generation), e[Int(i)].payload, e[Int(i)].deadline))
                release(i)
            }
            late.sort { $0.deadline < $1.deadline }
            for t in late { fire(t.handle, t.payload, t.deadline) }
        }
        guard now > elapsed else { return }
        while let (level, slot, time) = nextOccupied(), time <= now {
            elapsed = time
            // Take the whole slot, then fire or cascade each timer relative to the new time.
            var i = heads[level * Self.slotsPerLevel + slot]
            heads[level * Self.slotsPerLevel + slot] = -1
            occupied[level] &= ~(1 << UInt64(slot))
            while i >= 0 {
                let following = e[Int(i)].next
                if e[Int(i)].deadline <= time {
                    let handle = Handle(index: UInt32(i), generation: e[Int(i)].generation)
                    let payload = e[Int(i)].payload
                    let deadline = e[Int(i)].deadline
                    release(i)
                    fire(handle, payload, deadline)
                } else {
                    place(i)
                }
                i = following
            }
        }
        elapsed = now
    }

    // MARK: - Internals

    /// Links timer `i` into the slot its deadline belongs to, relative to `elapsed`.
    private mutating func place(_ i: Int32) {
        let deadline = e[Int(i)].deadline
        guard deadline > elapsed else {
            push(i, list: Self.expiredSlot)
            return
        }
        let level = Self.level(for: deadline, elapsed: elapsed)
        let slot = Int((deadline >> (Int64(level) * Self.slotBits)) & 63)
        push(i, list: Int32(level * Self.slotsPerLevel + slot))
        occupied[level] |= 1 << UInt64(slot)
    }

    /// The level of a deadline: the highest 6-bit group where it differs from `elapsed`.
    static func level(for deadline: Int64, elapsed: Int64) -> Int {
        let masked = UInt64(bitPattern: elapsed ^ deadline) | 63
        let significant = 63 - masked.leadingZeroBitCount
        return min(significant / Int(slotBits), levels - 1)
    }

    /// The first timer of a list: a slot (`level * 64 + slot`) or the expired list.
    private func head(_ list: Int32) -> Int32 { list == Self.expiredSlot ? expiredHead : heads[Int(list)] }

    private mutating func setHead(_ list: Int32, _ i: Int32) {
        if list == Self.expiredSlot { expiredHead = i } else { heads[Int(list)] = i }
    }

    private mutating func push(_ i: Int32, list: Int32) {
        let first = head(list)
        e[Int(i)].next = first
        e[Int(i)].prev = -1
        if first >= 0 { e[Int(first)].prev = i }
        setHead(list, i)
        e[Int(i)].slot = list
    }

    private mutating func unlink(_ i: Int32) {
        let p = e[Int(i)].prev
        let n = e[Int(i)].next
        let list = e[Int(i)].slot
        if n >= 0 { e[Int(n)].prev = p }
        if p >= 0 {
            e[Int(p)].next = n
        } else {
            setHead(list, n)
            if n < 0, list >= 0 {
                occupied[Int(list) / Self.slotsPerLevel] &= ~(1 << UInt64(Int(list) % Self.slotsPerLevel))
            }
        }
    }

    /// Returns entry `i` to the free list; its handle becomes stale.
    private mutating func release(_ i: Int32) {
        e[Int(i)].slot = Self.freeSlot
        e[Int(i)].generation &+= 1
        e[Int(i)].next = freeHead
        freeHead = i
        count -= 1
    }

    private func nextOccupied() -> (level: Int, slot: Int, time: Int64)? {
        for level in 0..<Self.levels {
            if let found = nextOccupied(level: level) { return (level, found.slot, found.time) }
        }
        return nil
    }

    private func nextOccupied(level: Int) -> (slot: Int, time: Int64)? {
        let bits = occupied[level]
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
