import SLACore
import TestSupport
import Testing

@Suite("Timer wheel")
struct TimerWheelTests {
    @Test(
        "random schedules, moves, cancels and advances fire exactly what a reference model fires",
        arguments: [1, 2, 3, 4])
    func againstReference(_ seed: Int) {
        var rng = SeededRandom(seed: UInt64(seed) * 7919)
        let start: Int64 = 1_793_600_000_000 + Int64(seed) * 12_345
        var wheel = TimerWheel(now: start)
        // Few keys, so that keys are moved, cancelled and re-armed (to old deadlines too) often.
        let keys: UInt64 = 700
        var live: [UInt32: Int64] = [:]
        var now = start
        let scales: [Int64] = [5, 64, 4_096, 300_000, 86_400_000, 40 * 86_400_000, 3 * 365 * 86_400_000]
        for _ in 0..<20_000 {
            switch rng.next() % 10 {
            case 0...4:
                let key = UInt32(rng.next() % keys)
                let scale = scales[Int(rng.next() % UInt64(scales.count))]
                // Sometimes back to a deadline it had before: its old reference must not fire twice.
                let deadline =
                    rng.next() % 8 == 0 ? start + Int64(key) * 1_000 : now - 3 + Int64(rng.next() % UInt64(scale))
                wheel.schedule(key, at: deadline)
                live[key] = deadline
            case 5, 6:
                let key = UInt32(rng.next() % keys)
                #expect(wheel.deadline(of: key) == live[key])
                wheel.cancel(key)
                #expect(wheel.deadline(of: key) == nil, "a cancelled key has no timer")
                wheel.cancel(key)
                live[key] = nil
            default:
                let step: Int64
                switch rng.next() % 4 {
                case 0: step = Int64(rng.next() % 3)
                case 1: step = Int64(rng.next() % 5_000)
                case 2: step = Int64(rng.next() % 100_000_000)
                default: step = max(0, (wheel.nextWakeup() ?? now) - now)
                }
                let target = now + step
                if let wake = wheel.nextWakeup(), let earliest = live.values.min() {
                    #expect(wake <= max(earliest, now), "the wheel must wake no later than its earliest timer")
                }
                var fired: [(UInt32, Int64)] = []
                wheel.advance(to: target) { fired.append(($0, $1)) }
                let expected = live.filter { $0.value <= target }
                #expect(fired.count == expected.count, "fired \(fired.count), expected \(expected.count)")
                for (key, deadline) in fired {
                    #expect(live[key] == deadline, "key \(key) fired once, for its current deadline")
                    live[key] = nil
                }
                let bad = zip(fired, fired.dropFirst()).first { $0.1 > $1.1 }
                #expect(
                    bad == nil,
                    "fired in deadline order: \(bad.map { "\($0.0.1) before \($0.1.1)" } ?? ""), from \(now) to \(target)"
                )
                now = max(now, target)
            }
            #expect(wheel.count == live.count)
            for key in [UInt32(rng.next() % keys)] { #expect(wheel.deadline(of: key) == live[key]) }
        }
        // Drain everything, years ahead included.
        var rest = 0
        wheel.advance(to: now + 10 * 365 * 86_400_000) { _, _ in rest += 1 }
        #expect(rest == live.count)
        #expect(wheel.count == 0)
        #expect(wheel.nextWakeup() == nil)
    }

    @Test("a timer fires at its millisecond, not before; an idle wheel needs no wakeups")
    func exactness() {
        var wheel = TimerWheel(now: 1_000)
        #expect(wheel.nextWakeup() == nil)
        wheel.schedule(7, at: 1_000 + 86_400_000 + 17)
        var fired: [UInt32] = []
        wheel.advance(to: 1_000 + 86_400_000 + 16) { k, _ in fired.append(k) }
        #expect(fired.isEmpty)
        #expect(wheel.deadline(of: 7) == Int64(1_000 + 86_400_000 + 17))
        wheel.advance(to: 1_000 + 86_400_000 + 17) { k, _ in fired.append(k) }
        #expect(fired == [7])
        #expect(wheel.deadline(of: 7) == nil)
        wheel.cancel(7)
        #expect(wheel.count == 0, "cancelling a fired key changes nothing")
        // Time never goes back: an earlier `now` fires nothing and keeps the wheel's time.
        wheel.schedule(8, at: 5_000 + 86_400_000)
        wheel.advance(to: 0) { k, _ in fired.append(k) }
        #expect(fired == [7])
        #expect(wheel.elapsed == 1_000 + 86_400_000 + 17)
    }

    @Test("a deadline already passed fires on the next advance; a key moved back and forth fires once")
    func pastDeadlinesAndMoves() {
        var wheel = TimerWheel(now: 10_000)
        wheel.schedule(1, at: 9_000)
        wheel.schedule(2, at: 8_000)
        var fired: [UInt32] = []
        wheel.advance(to: 10_000) { k, _ in fired.append(k) }
        #expect(fired == [2, 1], "late timers fire oldest first")
        // Armed, moved, armed back to the first deadline: two references look live; one fires.
        wheel.schedule(3, at: 20_000)
        wheel.schedule(3, at: 30_000)
        wheel.schedule(3, at: 20_000)
        wheel.schedule(3, at: 20_000)
        #expect(wheel.count == 1)
        wheel.advance(to: 40_000) { k, _ in fired.append(k) }
        #expect(fired == [2, 1, 3])
        #expect(wheel.count == 0)
        wheel.cancel(3)
        #expect(wheel.count == 0)
    }

    @Test("storage stays within 32 bytes per timer")
    func memory() {
        var wheel = TimerWheel(now: 0)
        wheel.reserveCapacity(100_000)
        for i in 0..<100_000 { wheel.schedule(UInt32(i), at: Int64(i) * 997 + 1) }
        #expect(TimerWheel.bytesPerTimer <= 32)
        #expect(wheel.storageBytes <= 100_000 * 32 + 16_384)
    }

    @Test(
        "stale references are reclaimed both ways: by checking them (many keys, few timers) and by rebuilding (most keys armed)",
        arguments: [100_000, 600])
    func reclaimBothWays(_ keySpace: Int) {
        var rng = SeededRandom(seed: UInt64(keySpace))
        let start: Int64 = 1_793_600_000_000
        var wheel = TimerWheel(now: start)
        // The highest key once armed and cancelled: the key table spans `keySpace` keys.
        wheel.schedule(UInt32(keySpace - 1), at: start + 5)
        wheel.cancel(UInt32(keySpace - 1))
        var live: [UInt32: Int64] = [:]
        let bytesBefore = wheel.storageBytes
        // 500 keys re-armed 20 000 times: well past the reclaim threshold, many times over.
        for _ in 0..<20_000 {
            let key = UInt32(rng.next() % 500)
            let deadline = start + 1 + Int64(rng.next() % (30 * 86_400_000))
            wheel.schedule(key, at: deadline)
            live[key] = deadline
        }
        #expect(wheel.count == live.count)
        #expect(wheel.storageBytes < bytesBefore + 200_000, "stale references reclaimed, not piled up")
        var fired: [UInt32: Int64] = [:]
        wheel.advance(to: start + 31 * 86_400_000) { key, deadline in
            #expect(fired[key] == nil, "key \(key) fired twice")
            fired[key] = deadline
        }
        #expect(fired == live)
        #expect(wheel.count == 0)
    }

    @Test("lazy cancels: sweeps reclaim stale references, the survivors fire exactly once, storage does not grow")
    func sweeps() {
        var rng = SeededRandom(seed: 42)
        let start: Int64 = 1_793_600_000_000
        var wheel = TimerWheel(now: start)
        var live: [UInt32: Int64] = [:]
        for k in 0..<20_000 {
            let deadline = start + 1 + Int64(rng.next() % (30 * 86_400_000))
            wheel.schedule(UInt32(k), at: deadline)
            live[UInt32(k)] = deadline
        }
        let bytes = wheel.storageBytes
        // Many rounds of cancel-most and re-arm: each crosses the sweep threshold several times.
        for _ in 0..<5 {
            for key in Array(live.keys).shuffled(using: &rng).prefix(15_000) {
                #expect(wheel.deadline(of: key) != nil)
                wheel.cancel(key)
                live[key] = nil
            }
            for k in 0..<15_000 {
                let key = UInt32(rng.next() % 20_000)
                let deadline = start + 1 + Int64(rng.next() % (30 * 86_400_000))
                wheel.schedule(key, at: deadline)
                live[key] = deadline
                _ = k
            }
            #expect(wheel.count == live.count)
        }
        #expect(wheel.storageBytes <= bytes * 2, "stale references are reclaimed, not piled up")
        var fired: [Int64] = []
        wheel.advance(to: start + 31 * 86_400_000) { key, deadline in
            let armed = live.removeValue(forKey: key)
            #expect(armed == deadline)
            fired.append(deadline)
        }
        #expect(live.isEmpty)
        #expect(fired == fired.sorted())
        #expect(wheel.count == 0)
        #expect(wheel.nextWakeup() == nil)
    }

    @Test(
        "queued updates: reads see them before they are applied, across many fillings of the queue; a copy is independent"
    )
    func queuedUpdatesAndCopies() {
        var rng = SeededRandom(seed: 99)
        let start: Int64 = 1_793_600_000_000
        var wheel = TimerWheel(now: start)
        var live: [UInt32: Int64] = [:]
        // 30 000 updates without an advance: the queue (4 096) fills and is applied several times,
        // and reads come at every point of its filling.
        for step in 0..<30_000 {
            let key = UInt32(rng.next() % 5_000)
            if rng.next() % 4 == 0 {
                wheel.cancel(key)
                live[key] = nil
            } else {
                let deadline = start + 1 + Int64(rng.next() % (30 * 86_400_000))
                wheel.schedule(key, at: deadline)
                live[key] = deadline
            }
            if step % 97 == 0 {
                #expect(wheel.count == live.count, "count at step \(step)")
                let probe = UInt32(rng.next() % 5_000)
                #expect(wheel.deadline(of: probe) == live[probe], "deadline of \(probe) at step \(step)")
            }
        }
        let copy = wheel.copy()
        let copied = live
        // The original moves on; the copy must not see it.
        for key in UInt32(0)..<2_000 {
            wheel.schedule(key, at: start + 7)
            live[key] = start + 7
        }
        var fired: [UInt32: Int64] = [:]
        wheel.advance(to: start + 31 * 86_400_000) { key, deadline in
            #expect(fired[key] == nil, "key \(key) fired twice")
            fired[key] = deadline
        }
        #expect(fired == live)
        #expect(copy.count == copied.count)
        for key in UInt32(0)..<5_000 { #expect(copy.deadline(of: key) == copied[key]) }
        var other = copy
        var firedCopy: [UInt32: Int64] = [:]
        other.advance(to: start + 31 * 86_400_000) { key, deadline in firedCopy[key] = deadline }
        #expect(firedCopy == copied)
    }
}
