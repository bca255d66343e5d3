import Foundation
import HeapModule
import SLACore
import TestSupport

/// The baseline: swift-collections' binary Heap with lazy deletion (cancelled
/// ids are skipped when popped; the heap is rebuilt when garbage outgrows the
/// live timers, which keeps it honest in steady state).
struct LazyHeapTimers {
    struct Entry: Comparable {
        var deadline: Int64
        var id: UInt32
        static func < (a: Entry, b: Entry) -> Bool { (a.deadline, a.id) < (b.deadline, b.id) }
    }
    var heap = Heap<Entry>()
    var cancelled: [Bool] = []
    var live = 0

    mutating func insert(deadline: Int64, id: UInt32) {
        // Ids come in order: appending keeps the baseline free of a temporary array per insert.
        while Int(id) >= cancelled.count { cancelled.append(false) }
        cancelled[Int(id)] = false
        heap.insert(Entry(deadline: deadline, id: id))
        live += 1
    }

    mutating func cancel(id: UInt32) {
        cancelled[Int(id)] = true
        live -= 1
        if heap.count > 2 * live + 1024 {
            heap = Heap(heap.unordered.filter { !cancelled[Int($0.id)] })
        }
    }

    mutating func advance(to now: Int64, _ fire: (UInt32) -> Void) {
        while let top = heap.min, top.deadline <= now {
            _ = heap.popMin()
            if cancelled[Int(top.id)] { continue }
            cancelled[Int(top.id)] = true
            live -= 1
            fire(top.id)
        }
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// (a) steady-state cancel + insert with `held` timers, (b) expiring `expiring` timers over 30 days, (c) memory.
func runWheelBenchmark(held: Int, expiring: Int, operations: Int) {
    print("timer wheel vs swift-collections Heap with lazy deletion (same run)")
    var rng = SeededRandom(seed: 20_261_206)
    let now: Int64 = 1_793_600_000_000
    let month: Int64 = 30 * 86_400_000

    // (a) Steady state: each operation cancels a random live timer and arms a new one within 30 days.
    let deadlines = (0..<(held + operations)).map { _ in now + Int64.random(in: 1..<month, using: &rng) }
    let victims = (0..<operations).map { _ in Int.random(in: 0..<held, using: &rng) }
    // The wheel is keyed by the caller's index (the live engine's incident index): the victim
    // is cancelled and armed again under its own key, with no handle to keep.
    var wheel = TimerWheel(now: now)
    wheel.reserveCapacity(held)
    for i in 0..<held { wheel.schedule(UInt32(i), at: deadlines[i]) }
    var clock = ContinuousClock.now
    for k in 0..<operations {
        let v = UInt32(victims[k])
        wheel.cancel(v)
        wheel.schedule(v, at: deadlines[held + k])
    }
    let wheelSteady = seconds(ContinuousClock.now - clock)
    var heap = LazyHeapTimers()
    var ids = (0..<held).map { UInt32($0) }
    for i in 0..<held { heap.insert(deadline: deadlines[i], id: UInt32(i)) }
    var nextID = UInt32(held)
    clock = ContinuousClock.now
    for k in 0..<operations {
        let v = victims[k]
        heap.cancel(id: ids[v])
        ids[v] = nextID
        heap.insert(deadline: deadlines[held + k], id: nextID)
        nextID += 1
    }
    let heapSteady = seconds(ContinuousClock.now - clock)
    // The floor of (a) for a structure with handles: what it must do per cancel+insert, and
    // nothing else — read the victim's handle from the caller's table (8 bytes a timer), mark
    // the victim where the handle points (a 4-byte word in a table of its own, at a place
    // unrelated to the caller's), and note the new timer at the end of an array. A keyed
    // structure skips the first read, so it can beat this floor.
    var floorHandles = Array(0..<UInt64(held)).shuffled(using: &rng)
    var marks = [UInt32](repeating: 0, count: held)
    var appended = [Int64]()
    appended.reserveCapacity(operations)
    clock = ContinuousClock.now
    for k in 0..<operations {
        let v = victims[k]
        let h = floorHandles[v]
        marks[Int(h)] &+= 1
        appended.append(deadlines[held + k])
        floorHandles[v] = h
    }
    let floorSteady = seconds(ContinuousClock.now - clock)
    precondition(marks.reduce(0, &+) == UInt32(truncatingIfNeeded: operations) && appended.count == operations)
    let a = Double(operations) / wheelSteady
    let b = Double(operations) / heapSteady
    let f = Double(operations) / floorSteady
    print(
        String(
            format: "(a) cancel+insert, %dk held       wheel %11.0f ops/s   heap %11.0f ops/s   ratio %6.2fx",
            held / 1000, a, b, a / b))
    print(
        String(
            format: "    floor of (a) with handles: handle read + victim mark + append %11.0f ops/s = %5.2fx the heap",
            f, f / b))
    // Memory after the churn: stale references wait for their slot or a sweep (the wheel), or
    // cancelled entries for the next rebuild (the heap), so both hold more than the live timers.
    let heapHeld =
        heap.heap.unordered.capacity * MemoryLayout<LazyHeapTimers.Entry>.stride + heap.cancelled.capacity
    print(
        String(
            format: "    memory after (a), per live timer: wheel %6.1f bytes   heap %6.1f bytes (with cancel flags)",
            Double(wheel.storageBytes) / Double(held), Double(heapHeld) / Double(held)))

    // (b) Expire `expiring` timers spread over 30 days, advancing minute by minute.
    var expWheel = TimerWheel(now: now)
    expWheel.reserveCapacity(expiring)
    var expHeap = LazyHeapTimers()
    expHeap.heap.reserveCapacity(expiring)
    var fireTimes = [Int64](repeating: 0, count: expiring)
    for i in 0..<expiring { fireTimes[i] = now + Int64.random(in: 1...month, using: &rng) }
    clock = ContinuousClock.now
    for i in 0..<expiring { expWheel.schedule(UInt32(i), at: fireTimes[i]) }
    var firedWheel = 0
    var t = now
    while t < now + month {
        t += 60_000
        expWheel.advance(to: t) { _, _ in firedWheel += 1 }
    }
    let wheelExpire = seconds(ContinuousClock.now - clock)
    let wheelBytes = expWheel.storageBytes
    _ = expWheel
    clock = ContinuousClock.now
    for i in 0..<expiring { expHeap.insert(deadline: fireTimes[i], id: UInt32(i)) }
    var firedHeap = 0
    t = now
    while t < now + month {
        t += 60_000
        expHeap.advance(to: t) { _ in firedHeap += 1 }
    }
    let heapExpire = seconds(ContinuousClock.now - clock)
    precondition(firedWheel == expiring && firedHeap == expiring, "both must fire every timer")
    let c = Double(expiring) / wheelExpire
    let d = Double(expiring) / heapExpire
    print(
        String(
            format: "(b) insert + expire %dM over 30 d  wheel %11.0f tim/s   heap %11.0f tim/s   ratio %6.2fx",
            expiring / 1_000_000, c, d, c / d))
    let heapBytes =
        expHeap.heap.unordered.capacity * MemoryLayout<LazyHeapTimers.Entry>.stride + expHeap.cancelled.capacity
    print(
        String(
            format:
                "(c) memory at %dM timers          wheel %6.1f bytes/timer   heap %6.1f bytes/timer (+ cancel flags)",
            expiring / 1_000_000, Double(wheelBytes) / Double(expiring), Double(heapBytes) / Double(expiring)))
}
