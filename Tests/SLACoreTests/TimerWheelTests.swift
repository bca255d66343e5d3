import SLACore
import TestSupport
import Testing

@Suite("Timer wheel")
struct TimerWheelTests {
    @Test("random inserts, cancels and advances fire exactly what a reference model fires", arguments: [1, 2, 3, 4])
    func againstReference(_ seed: Int) {
        var rng = SeededRandom(seed: UInt64(seed) * 7919)
        let start: Int64 = 1_793_600_000_000 + Int64(seed) * 12_345
        var wheel = TimerWheel(now: start)
        var live: [TimerWheel.Handle: (deadline: Int64, payload: UInt32)] = [:]
        var now = start
        var payload: UInt32 = 0
        let scales: [Int64] = [5, 64, 4_096, 300_000, 86_400_000, 40 * 86_400_000, 3 * 365 * 86_400_000]
        for _ in 0..<20_000 {
            switch rng.next() % 10 {
            case 0...4:
                let scale = scales[Int(rng.next() % UInt64(scales.count))]
                let deadline = now - 3 + Int64(rng.next() % UInt64(scale))
                payload += 1
                live[wheel.insert(deadline: deadline, payload: payload)] = (deadline, payload)
            case 5, 6:
                if let victim = live.keys.randomElement(using: &rng) {
                    let cancelled = wheel.cancel(victim)
                    let again = wheel.cancel(victim)
                    #expect(cancelled)
                    #expect(!again, "a cancelled handle is stale")
                    live[victim] = nil
                }
            default:
                let step: Int64
                switch rng.next() % 4 {
                case 0: step = Int64(rng.next() % 3)
                case 1: step = Int64(rng.next() % 5_000)
                case 2: step = Int64(rng.next() % 100_000_000)
                default: step = max(0, (wheel.nextWakeup() ?? now) - now)
                }
                let target = now + step
                if let wake = wheel.nextWakeup(), let earliest = live.values.map(\.deadline).min() {
                    #expect(wake <= max(earliest, now), "the wheel must wake no later than its earliest timer")
                }
                var fired: [(TimerWheel.Handle, UInt32, Int64)] = []
                wheel.advance(to: target) { fired.append(($0, $1, $2)) }
                let expected = live.filter { $0.value.deadline <= target }
                #expect(fired.count == expected.count, "fired \(fired.count), expected \(expected.count)")
                for (handle, p, deadline) in fired {
                    #expect(live[handle]?.payload == p && live[handle]?.deadline == deadline)
                    live[handle] = nil
                }
                let bad = zip(fired, fired.dropFirst()).first { $0.2 > $1.2 }
                #expect(
                    bad == nil,
                    "fired in deadline order: \(bad.map { "\($0.0.2) before \($0.1.2)" } ?? ""), from \(now) to \(target), all \(fired.map(\.2))"
                )
                now = max(now, target)
            }
            #expect(wheel.count == live.count)
        }
        // Drain everything, years ahead included.
        var rest = 0
        wheel.advance(to: now + 10 * 365 * 86_400_000) { _, _, _ in rest += 1 }
        #expect(rest == live.count)
        #expect(wheel.count == 0)
        #expect(wheel.nextWakeup() == nil)
    }

    @Test("a timer fires at its millisecond, not before; an idle wheel needs no wakeups")
    func exactness() {
        var wheel = TimerWheel(now: 1_000)
        #expect(wheel.nextWakeup() == nil)
        let h = wheel.insert(deadline: 1_000 + 86_400_000 + 17, payload: 7)
        var fired: [UInt32] = []
        wheel.advance(to: 1_000 + 86_400_000 + 16) { _, p, _ in fired.append(p) }
        #expect(fired.isEmpty)
        #expect(wheel.deadline(of: h) == Int64(1_000 + 86_400_000 + 17))
        wheel.advance(to: 1_000 + 86_400_000 + 17) { _, p, _ in fired.append(p) }
        #expect(fired == [7])
        #expect(wheel.deadline(of: h) == nil)
        let stale = wheel.cancel(h)
        #expect(!stale)
        // Time never goes back: an earlier `now` fires nothing and keeps the wheel's time.
        wheel.insert(deadline: 5_000 + 86_400_000, payload: 8)
        wheel.advance(to: 0) { _, p, _ in fired.append(p) }
        #expect(fired == [7])
        #expect(wheel.elapsed == 1_000 + 86_400_000 + 17)
    }

    @Test("a deadline already passed fires on the next advance; handles of reused entries stay distinct")
    func pastDeadlinesAndReuse() {
        var wheel = TimerWheel(now: 10_000)
        let a = wheel.insert(deadline: 9_000, payload: 1)
        var fired: [UInt32] = []
        wheel.advance(to: 10_000) { _, p, _ in fired.append(p) }
        #expect(fired == [1])
        let b = wheel.insert(deadline: 20_000, payload: 2)
        #expect(a != b, "the reused entry has a new generation")
        let cancelA = wheel.cancel(a)
        let cancelB = wheel.cancel(b)
        #expect(!cancelA)
        #expect(cancelB)
    }

    @Test("storage stays within 32 bytes per timer")
    func memory() {
        var wheel = TimerWheel(now: 0)
        wheel.reserveCapacity(100_000)
        for i in 0..<100_000 { wheel.insert(deadline: Int64(i) * 997 + 1, payload: UInt32(i)) }
        #expect(TimerWheel.bytesPerTimer <= 32)
        #expect(wheel.storageBytes <= 100_000 * 32 + 8_192)
    }

    @Test("lazy cancels: sweeps reclaim cancelled entries, the survivors fire exactly once, storage does not grow")
    func sweeps() {
        var rng = SeededRandom(seed: 42)
        let start: Int64 = 1_793_600_000_000
        var wheel = TimerWheel(now: start)
        var live: [TimerWheel.Handle: Int64] = [:]
        for k in 0..<20_000 {
            let deadline = start + 1 + Int64(rng.next() % (30 * 86_400_000))
            live[wheel.insert(deadline: deadline, payload: UInt32(k))] = deadline
        }
        let bytes = wheel.storageBytes
        // Many rounds of cancel-most and re-arm: each crosses the sweep threshold several times.
        for _ in 0..<5 {
            for handle in Array(live.keys).shuffled(using: &rng).prefix(15_000) {
                let cancelled = wheel.cancel(handle)
                #expect(cancelled)
                live[handle] = nil
            }
            for k in 0..<15_000 {
                let deadline = start + 1 + Int64(rng.next() % (30 * 86_400_000))
                live[wheel.insert(deadline: deadline, payload: UInt32(k))] = deadline
            }
            #expect(wheel.count == live.count)
        }
        #expect(wheel.storageBytes <= bytes * 5 / 4, "cancelled entries are reused, not piled up")
        var fired: [Int64] = []
        wheel.advance(to: start + 31 * 86_400_000) { handle, _, deadline in
            let armed = live.removeValue(forKey: handle)
            #expect(armed == deadline)
            fired.append(deadline)
        }
        #expect(live.isEmpty)
        #expect(fired == fired.sorted())
        #expect(wheel.count == 0)
        #expect(wheel.nextWakeup() == nil)
    }
}
