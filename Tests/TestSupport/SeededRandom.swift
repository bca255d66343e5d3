import Foundation

/// SplitMix64: a tiny seeded generator, so property tests and generated data are reproducible
/// (a failing seed runs again). Shared by the test targets.
public struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed of a randomized test: `$SLAD_TEST_SEED` when set (to run a failure again), else a
/// new one. Tests name it in their failure messages.
public func testSeed() -> UInt64 {
    if let text = ProcessInfo.processInfo.environment["SLAD_TEST_SEED"], let seed = UInt64(text) { return seed }
    var any = SystemRandomNumberGenerator()
    return any.next()
}
