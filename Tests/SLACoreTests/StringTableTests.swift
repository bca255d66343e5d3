import TestSupport
import Testing

@testable import SLACore

@Suite("String table")
struct StringTableTests {
    @Test(
        "batches and single inserts answer as Set<String> does, id by id, across many growths, with repeats inside a batch and look-alike ids"
    )
    func matchesSet() {
        var rng = SeededRandom(seed: 47)
        var ids = StringTable()
        var model = Set<String>()
        // Few distinct ids at first (many repeats), then many; empty and long ids, and ids
        // that differ only late or by Unicode normalization (Set treats those as equal).
        let pool = ["", "é", "e\u{301}", String(repeating: "x", count: 200), String(repeating: "x", count: 199) + "y"]
        var n = 0
        while n < 120_000 {
            // Batches of 1 to 300: a batch may repeat its own ids and cross a growth.
            let batch = (0..<Int(1 + rng.next() % 300)).map { k in
                (n + k) % 97 == 0
                    ? pool[Int(rng.next() % UInt64(pool.count))]
                    : "e-\(rng.next() % UInt64(max(50, (n + k) / 2)))"
            }
            // Every other batch with its hashes made beforehand, as ingest's reading thread does.
            let given = n % 2 == 0 ? nil : batch.map { IngestEngine.identityHash($0) }
            let before = ids.count
            var fresh: [Bool] = []
            if batch.count % 3 == 0 {
                // One by one, as the engine numbers incidents.
                for id in batch {
                    let (number, inserted) = ids.insert(id)
                    #expect(ids.strings[number] == id)
                    fresh.append(inserted)
                }
            } else {
                fresh = ids.insertNumbered(count: batch.count, hashes: given) { batch[$0] }.map(\.inserted)
            }
            let expected = batch.map { model.insert($0).inserted }
            #expect(fresh == expected, "batch at \(n)")
            #expect(ids.count == model.count)
            // Numbers are dense, new strings take the next ones in first-seen order, and every
            // string's number leads back to it.
            #expect(Array(ids.strings[before...]) == zip(batch, fresh).filter(\.1).map(\.0))
            for id in batch {
                let number = ids.number(of: id)
                #expect(number.map { ids.strings[$0] } == id)
            }
            n += batch.count
        }
        #expect(model.count > 30_000)
    }
}
