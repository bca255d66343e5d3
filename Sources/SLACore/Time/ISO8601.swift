/// Fast ISO 8601 / RFC 3339 timestamps, the hot path of event decoding.
public enum ISO8601 {
    /// A parsed timestamp: wall time plus the offset it carried, if any.
    public struct Parsed: Sendable, Equatable {
        /// Seconds since 1970-01-01T00:00 in the timestamp's own wall time.
        public var localSeconds: Int64
        /// Seconds east of UTC when the text had `Z` or `±hh:mm`.
        public var offset: Int64?
        /// The seconds had a fraction other than zero (`.250`), which `localSeconds` drops.
        public var fractional = false

        /// The instant, reading an offset-less time in `zone`.
        public func instant(in zone: ZoneRules) -> Instant {
            if let offset { return Instant(localSeconds - offset) }
            return zone.instant(fromLocal: localSeconds)
        }

        /// The instant as a deadline: a dropped fraction moves it to the next whole second, so
        /// that a deadline is never earlier than written.
        public func deadline(in zone: ZoneRules) -> Instant {
            instant(in: zone).adding(seconds: fractional ? 1 : 0)
        }
    }

    /// Parses `YYYY-MM-DD[T ]hh:mm[:ss[.fff]][Z|±hh:mm|±hhmm]`.
    public static func parse(_ text: String) -> Parsed? {
        var s = text
        return s.withUTF8 { parse(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Parses from raw UTF-8 bytes (no allocation).
    public static func parse(utf8 u: UnsafeRawBufferPointer) -> Parsed? {
        let n = u.count
        guard n >= 16 else { return nil }
        @inline(__always) func num(_ i: Int, _ c: Int) -> Int? {
            var v = 0
            for k in i..<(i + c) {
                let d = u[k] &- 48
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            return v
        }
        guard u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54 || u[10] == 0x20 || u[10] == 0x74, u[13] == 0x3A,
            let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2)
        else { return nil }
        var i = 16
        var sec = 0
        var fractional = false
        if i < n, u[i] == 0x3A {
            guard i + 3 <= n, let s = num(i + 1, 2) else { return nil }
            sec = s
            i += 3
            if i < n, u[i] == 0x2E || u[i] == 0x2C {
                i += 1
                let fracStart = i
                while i < n, u[i] &- 48 < 10 {
                    if u[i] != 0x30 { fractional = true }
                    i += 1
                }
                guard i > fracStart else { return nil }
            }
        }
        let date = LocalDate(year: y, month: mo, day: d)
        guard date.isValid, h < 24 || (h == 24 && mi == 0 && sec == 0), mi < 60, sec < 61 else { return nil }
        let local = date.daysSinceEpoch * 86_400 + Int64(h * 3600 + mi * 60 + min(sec, 59))
        if i == n { return Parsed(localSeconds: local, offset: nil, fractional: fractional) }
        if u[i] == 0x5A || u[i] == 0x7A {
            return i + 1 == n ? Parsed(localSeconds: local, offset: 0, fractional: fractional) : nil
        }
        guard u[i] == 0x2B || u[i] == 0x2D else { return nil }
        let sign: Int64 = u[i] == 0x2B ? 1 : -1
        i += 1
        guard i + 2 <= n, let oh = num(i, 2) else { return nil }
        i += 2
        var om = 0
        if i < n {
            if u[i] == 0x3A { i += 1 }
            guard i + 2 == n, let m = num(i, 2) else { return nil }
            om = m
        }
        guard oh < 24, om < 60 else { return nil }
        return Parsed(localSeconds: local, offset: sign * Int64(oh * 3600 + om * 60), fractional: fractional)
    }

    /// Formats `instant` as `YYYY-MM-DDThh:mm:ss±hh:mm` in `zone` (`Z` for UTC offset 0 in the UTC zone).
    public static func format(_ instant: Instant, in zone: ZoneRules) -> String {
        var written = true
        let text = String(unsafeUninitializedCapacity: maximumWrittenLength) { out in
            guard let n = write(instant, in: zone, to: out.baseAddress!) else {
                written = false
                return 0
            }
            return n
        }
        guard !written else { return text }
        let offset = zone.offset(at: instant)
        let local = instant.seconds + offset
        let date = LocalDate(daysSinceEpoch: floorDiv(local, 86_400))
        return padded(
            date, Int(local - date.daysSinceEpoch * 86_400), offset, utc: offset == 0 && zone.identifier == "UTC")
    }

    /// The most bytes ``write(_:in:to:)`` writes.
    public static let maximumWrittenLength = 25

    /// Writes ``format(_:in:)`` of `instant` to `out`, which has room for
    /// ``maximumWrittenLength`` bytes, and returns how many it wrote; nil, writing nothing, for
    /// years outside 0–9999 (only ``format(_:in:)`` writes their general form).
    ///
    /// Digit by digit into the caller's buffer: a monthly report writes one instant per breach
    /// line, up to millions, and interpolating padded parts cost more than the rest of the line.
    public static func write(_ instant: Instant, in zone: ZoneRules, to out: UnsafeMutablePointer<UInt8>) -> Int? {
        let offset = zone.offset(at: instant)
        let local = instant.seconds + offset
        let date = LocalDate(daysSinceEpoch: floorDiv(local, 86_400))
        let sod = Int(local - date.daysSinceEpoch * 86_400)
        guard (0...9999).contains(date.year), abs(offset) < 100 * 3600 else { return nil }
        var n = 0
        func two(_ v: Int) {
            out[n] = 0x30 + UInt8(v / 10)
            out[n + 1] = 0x30 + UInt8(v % 10)
            n += 2
        }
        func put(_ c: UInt8) {
            out[n] = c
            n += 1
        }
        two(date.year / 100)
        two(date.year % 100)
        put(0x2D)
        two(date.month)
        put(0x2D)
        two(date.day)
        put(0x54)
        two(sod / 3600)
        put(0x3A)
        two(sod / 60 % 60)
        put(0x3A)
        two(sod % 60)
        if offset == 0 && zone.identifier == "UTC" {
            put(0x5A)
        } else {
            let a = Int(abs(offset))
            put(offset < 0 ? 0x2D : 0x2B)
            two(a / 3600)
            put(0x3A)
            two(a / 60 % 60)
        }
        return n
    }

    /// The general form, for years outside 0–9999.
    static func padded(_ date: LocalDate, _ sod: Int, _ offset: Int64, utc: Bool) -> String {
        var out = "\(date)T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
        if utc {
            out += "Z"
        } else {
            let a = abs(offset)
            out += (offset < 0 ? "-" : "+") + "\(pad(Int(a / 3600), 2)):\(pad(Int(a / 60 % 60), 2))"
        }
        return out
    }
}
