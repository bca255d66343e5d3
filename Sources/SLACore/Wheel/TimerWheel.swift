/// A hierarchical timer wheel with millisecond resolution (Varghese & Lauck;
/// laid out like tokio's and the post-2016 Linux wheel).
///
/// Eight levels of 64 slots each cover 64⁸ ms (about 8,900 years). A timer
/// sits at the level of the highest 6-bit group in which its deadline differs
/// from the wheel's current time, so the lowest occupied level always holds the
/// earliest timers; advancing cascades a higher-level slot down when its time
/// comes. Insert and cancel are O(1) (cancel amortized, see below); finding the
/// next occupied slot is a bitmap scan per level, so an idle wheel needs no
/// ticking at all.
///
/// Timers live in a slab with a free list, singly linked into their slot by
/// index: no allocation per timer, 20 bytes each (a 16-byte entry, and a 4-byte
/// tag holding its state and generation in a separate, denser array).
/// Cancelling is lazy: it changes the tag only — one access to an array a fifth
/// the size of the entries, where unlinking from a doubly linked list touches
/// three entries that are cold in a large wheel — and the entry is reclaimed
/// when its slot is next taken or, once cancelled entries pass half of the
/// live ones, by one sequential sweep that relinks the live timers. Time is a
/// value passed in (milliseconds since the epoch); the wheel never reads a clock.
public struct TimerWheel: Sendable {
    /// Identifies a timer; stale after the timer fired or was cancelled.
    public struct Handle: Hashable, Sendable {
        let index: UInt32
        let generation: UInt32
    }

    static let levels = 8
    static let slotBits: Int64 = 6
    static let slotsPerLevel = 64
    /// Tag states (the low two bits of a tag; the generation is the rest).
    static let free: UInt32 = 0
    /// In a list, to fire.
    static let armed: UInt32 = 1
    /// In a list, to be reclaimed.
    static let cancelled: UInt32 = 2

    /// One timer: 16 bytes.
    struct Entry {
        var deadline: Int64
        /// The next entry of its list (a slot's, the expired one, or the free list), -1 at the end.
        var next: Int32
        var payload: UInt32
    }

    /// Entries and tags in manually grown buffers: a Swift array per field would pay a
    /// uniqueness and bounds check on every access of the hot path (measured).
    final class Storage: @unchecked Sendable {
        var base: UnsafeMutablePointer<Entry>
        /// `generation << 2 | state` per entry.
        var tags: UnsafeMutablePointer<UInt32>
        var count = 0
        var capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            base = .allocate(capacity: self.capacity)
            tags = .allocate(capacity: self.capacity)
        }

        deinit {
            base.deallocate()
            tags.deallocate()
        }

        func grow(to minimum: Int) {
            guard minimum > capacity else { return }
            let newCapacity = max(minimum, capacity * 2)
            let fresh = UnsafeMutablePointer<Entry>.allocate(capacity: newCapacity)
            fresh.moveInitialize(from: base, count: count)
            base.deallocate()
            base = fresh
            let freshTags = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
            freshTags.moveInitialize(from: tags, count: count)
            tags.deallocate()
            tags = freshTags
            capacity = newCapacity
        }

        func copy() -> Storage {
            let other = Storage(capacity: capacity)
            other.base.initialize(from: base, count: count)
            other.tags.initialize(from: tags, count: count)
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
    /// Cancelled entries still in lists.
    private var tombstones = 0

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

    /// Bytes of storage per timer (the entry's stride and its tag).
    public static let bytesPerTimer = MemoryLayout<Entry>.stride + MemoryLayout<UInt32>.stride

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
    private var tags: UnsafeMutablePointer<UInt32> { storage.tags }

    /// The handle of armed entry `i`.
    private func handle(_ i: Int32) -> Handle { Handle(index: UInt32(i), generation: tags[Int(i)] >> 2) }

    /// Whether `handle` names an armed timer.
    private func isArmed(_ handle: Handle) -> Bool {
        Int(handle.index) < storage.count && tags[Int(handle.index)] == (handle.generation << 2 | Self.armed)
    }

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
            tags[Int(index)] = tags[Int(index)] & ~3 | Self.armed
        } else {
            storage.grow(to: storage.count + 1)
            index = Int32(storage.count)
            (e + Int(index)).initialize(to: Entry(deadline: deadline, next: -1, payload: payload))
            (tags + Int(index)).initialize(to: Self.armed)
            storage.count += 1
        }
        count += 1
        place(index)
        return handle(index)
    }

    /// Disarms a timer; false when the handle is stale (fired, cancelled, reused).
    @discardableResult
    public mutating func cancel(_ handle: Handle) -> Bool {
        guard isArmed(handle) else { return false }
        makeUnique()
        // A new generation at once: the handle is stale from here, the entry waits in its list.
        tags[Int(handle.index)] = (handle.generation &+ 1) << 2 | Self.cancelled
        count -= 1
        tombstones += 1
        if tombstones > count / 2 + 1_024 { sweep() }
        return true
    }

    /// The deadline of a live timer.
    public func deadline(of handle: Handle) -> Int64? {
        isArmed(handle) ? e[Int(handle.index)].deadline : nil
    }

    /// When the wheel next needs to be advanced: the earliest deadline, or an
    /// earlier instant at which a higher-level slot cascades or a slot holding only
    /// cancelled timers is reclaimed. Nil when no timer is armed.
    public func nextWakeup() -> Int64? {
        guard count > 0 else { return nil }
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
            var i = expiredHead
            expiredHead = -1
            while i >= 0 {
                let following = e[Int(i)].next
                if tags[Int(i)] & 3 == Self.armed {
                    late.append((handle(i), e[Int(i)].payload, e[Int(i)].deadline))
                    count -= 1
                } else {
                    tombstones -= 1
                }
                release(i)
                i = following
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
                if tags[Int(i)] & 3 != Self.armed {
                    tombstones -= 1
                    release(i)
                } else if e[Int(i)].deadline <= time {
                    let fired = handle(i)
                    let payload = e[Int(i)].payload
                    let deadline = e[Int(i)].deadline
                    count -= 1
                    release(i)
                    fire(fired, payload, deadline)
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
            e[Int(i)].next = expiredHead
            expiredHead = i
            return
        }
        let level = Self.level(for: deadline, elapsed: elapsed)
        let slot = Int((deadline >> (Int64(level) * Self.slotBits)) & 63)
        let list = level * Self.slotsPerLevel + slot
        e[Int(i)].next = heads[list]
        heads[list] = i
        occupied[level] |= 1 << UInt64(slot)
    }

    /// The level of a deadline: the highest 6-bit group where it differs from `elapsed`.
    static func level(for deadline: Int64, elapsed: Int64) -> Int {
        let masked = UInt64(bitPattern: elapsed ^ deadline) | 63
        let significant = 63 - masked.leadingZeroBitCount
        return min(significant / Int(slotBits), levels - 1)
    }

    /// Returns entry `i` to the free list; a fired timer's handle becomes stale here
    /// (a cancelled one already is).
    private mutating func release(_ i: Int32) {
        let tag = tags[Int(i)]
        let generation = tag & 3 == Self.armed ? (tag >> 2) &+ 1 : tag >> 2
        tags[Int(i)] = generation << 2 | Self.free
        e[Int(i)].next = freeHead
        freeHead = i
    }

    /// Relinks every armed timer into fresh lists and frees every cancelled entry, in
    /// one pass over the buffer in index order (so the free list hands entries out in
    /// that order too). Amortized: it runs once cancelled entries pass half the live count; at a
    /// quarter it ran twice as often, touching every entry each time, and saved no memory once
    /// the buffer had doubled (docs/benchmarks.md).
    private mutating func sweep() {
        for k in heads.indices { heads[k] = -1 }
        for k in occupied.indices { occupied[k] = 0 }
        expiredHead = -1
        freeHead = -1
        var i = Int32(storage.count) - 1
        while i >= 0 {
            if tags[Int(i)] & 3 == Self.armed { place(i) } else { release(i) }
            i -= 1
        }
        tombstones = 0
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
