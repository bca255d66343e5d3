/// The pieces of slad's packed column values (``PackedClocks``, ``PackedEvents``): texts as a
/// length and UTF-8 bytes, numbers as zigzag LEB128 varints, read back bounds-checked.
enum PackedBytes {
    /// Appends `s` as its UTF-8 length and bytes.
    static func text(_ s: String, _ out: inout [UInt8]) {
        var s = s
        s.withUTF8 { b in
            number(Int64(b.count), &out)
            out.append(contentsOf: b)
        }
    }

    /// Appends `v` as a zigzag LEB128 varint (small magnitudes, either sign, take one byte).
    static func number(_ v: Int64, _ out: inout [UInt8]) {
        var z = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        while z >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: z) | 0x80)
            z >>= 7
        }
        out.append(UInt8(z))
    }

    /// A 64-bit checksum of `bytes`, a word at a time: it tells damaged bytes from good ones
    /// (every bit of the input moves the result); it is no defence against a forger.
    static func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(bytes.count)
        let raw = UnsafeRawBufferPointer(bytes)
        var at = 0
        while at + 8 <= raw.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            at += 8
        }
        while at < raw.count {
            h = (h ^ UInt64(raw[at])) &* 0x100_0000_01B3
            at += 1
        }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        return h ^ (h >> 33)
    }

    /// Reads values in place; each read is nil where the bytes end first (damaged bytes end a
    /// read, never a read outside them).
    struct Reader {
        private let bytes: UnsafeBufferPointer<UInt8>
        private var at = 0

        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        /// Whether every byte was read.
        var atEnd: Bool { at == bytes.count }

        /// Bytes not read yet.
        var remaining: Int { bytes.count - at }

        mutating func byte() -> UInt8? {
            guard at < bytes.count else { return nil }
            defer { at += 1 }
            return bytes[at]
        }

        mutating func number() -> Int64? {
            var z: UInt64 = 0
            var shift: UInt64 = 0
            while at < bytes.count, shift < 64 {
                let b = bytes[at]
                at += 1
                z |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))) }
                shift += 7
            }
            return nil
        }

        /// A text's bytes, in place.
        mutating func text() -> UnsafeBufferPointer<UInt8>? {
            guard let n = number(), n >= 0, n <= bytes.count - at else { return nil }
            defer { at += Int(n) }
            return UnsafeBufferPointer(rebasing: bytes[at..<(at + Int(n))])
        }
    }
}
