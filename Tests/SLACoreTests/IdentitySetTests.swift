import TestSupport
import Testing

@testable import SLACore

@Suite("Identity set")
struct IdentitySetTests {
    @Test("inserts answer as Set<String> does, across many growths, with repeats and look-alike ids")
    func matchesSet() {
        var rng = SeededRandom(seed: 47)
        var ids = IdentitySet()
        var model = Set<String>()
        // Few distinct ids at first (many repeats), then many; empty and long ids, and ids
        // that differ only late or by Unicode normalization (Set treats those as equal).
        let pool = ["", "é", "e\u{301}", String(repeating: "x", count: 200), String(repeating: "x", count: 199) + "y"]
        for n in 0..<120_000 {
            let id =
                n % 97 == 0
                ? pool[Int(rng.next() % UInt64(pool.count))]
                : "e-\(rng.next() % UInt64(max(50, n / 2)))"
            #expect(ids.insert(id) == model.insert(id).inserted, "insert \(n): \(id)")
            #expect(ids.count == model.count)
        }
        #expect(model.count > 30_000)
    }
}
