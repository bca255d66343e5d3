import SLACore

/// The CSV breach rows of a report made from a statement, written from the statement's compact
/// lines: the same bytes as ``CSVWriter/breachRow(_:_:)`` of each ``MonthlyReport/Breach``,
/// without making a million of those first.
///
/// What a row shares with every row of its price (the metric, priority, amount, currency and
/// rule, quoted) is written once per price; per row only the incident, the instant and three
/// numbers are written, into a buffer sized for the rows beforehand.
struct StatementBreachRows {
    let lines: BreachLines
    let zone: ZoneRules
    /// Per price: `contract,month,state,breach,metric,`.
    let head: [[UInt8]]
    /// Per price: `,metric,priority,`.
    let middle: [[UInt8]]
    /// Per price: `,amount,currency,rule` and the line end.
    let tail: [[UInt8]]
    /// The most bytes of a row, beside its incident.
    let fixed: Int

    init(_ lines: BreachLines, zone: ZoneRules, _ shared: CSVWriter.BreachRowParts) {
        self.lines = lines
        self.zone = zone
        var head: [[UInt8]] = []
        var middle: [[UInt8]] = []
        var tail: [[UInt8]] = []
        for price in lines.prices {
            let metric = price.metric.description
            var w = CSVWriter()
            w.bytes = shared.lead
            w.field(metric, first: true)
            w.bytes.append(0x2C)
            head.append(w.bytes)
            w = CSVWriter()
            w.field(metric)
            w.field(price.priority)
            w.bytes.append(0x2C)
            middle.append(w.bytes)
            w = CSVWriter()
            w.field(price.amount.amountText)
            w.bytes += shared.currency
            w.field(price.rule, first: true)
            w.endRow()
            tail.append(w.bytes)
        }
        self.head = head
        self.middle = middle
        self.tail = tail
        // The instant, three numbers of at most 20 bytes and the four commas between them.
        fixed =
            (head.map(\.count).max() ?? 0) + (middle.map(\.count).max() ?? 0) + (tail.map(\.count).max() ?? 0)
            + Self.instantRoom + 3 * 20 + 4
    }

    /// Room for an instant: ``ISO8601/maximumWrittenLength``, or the general form of a year
    /// outside 0–9999 (at most 34 bytes for any 64-bit instant).
    static let instantRoom = 40

    /// The rows of lines `range`, in order.
    func rows(_ range: Range<Int>) -> [UInt8] {
        var capacity = 0
        for k in range { capacity += fixed + 2 * lines.incident(k).utf8.count + 2 }
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var out = buffer.baseAddress!
            func put(_ bytes: [UInt8]) {
                bytes.withUnsafeBufferPointer { b in
                    out.update(from: b.baseAddress!, count: b.count)
                    out += b.count
                }
            }
            func number(_ value: Int64) {
                var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
                var magnitude = value.magnitude
                withUnsafeMutableBytes(of: &digits) { d in
                    var n = 24
                    repeat {
                        n -= 1
                        d[n] = 0x30 + UInt8(magnitude % 10)
                        magnitude /= 10
                    } while magnitude > 0
                    if value < 0 {
                        n -= 1
                        d[n] = 0x2D
                    }
                    out.update(from: d.baseAddress!.assumingMemoryBound(to: UInt8.self) + n, count: 24 - n)
                    out += 24 - n
                }
            }
            for k in range {
                let price = lines.priceIndex(k)
                put(head[price])
                var incident = lines.incident(k)
                incident.withUTF8 { utf8 in
                    if CSVWriter.needsQuotes(utf8) {
                        out.pointee = 0x22
                        out += 1
                        for b in utf8 {
                            if b == 0x22 {
                                out.pointee = 0x22
                                out += 1
                            }
                            out.pointee = b
                            out += 1
                        }
                        out.pointee = 0x22
                        out += 1
                    } else if let base = utf8.baseAddress {
                        out.update(from: base, count: utf8.count)
                        out += utf8.count
                    }
                }
                put(middle[price])
                let at = lines.instant(k)
                if let n = ISO8601.write(at, in: zone, to: out) {
                    out += n
                } else {
                    put(Array(ISO8601.format(at, in: zone).utf8.prefix(Self.instantRoom)))
                }
                let target = lines.target(k)
                let actual = lines.actual(k)
                out.pointee = 0x2C
                out += 1
                number(target)
                out.pointee = 0x2C
                out += 1
                number(actual)
                out.pointee = 0x2C
                out += 1
                number(max(0, actual - target))
                out.pointee = 0x2C
                out += 1
                put(tail[price])
            }
            count = out - buffer.baseAddress!
        }
    }
}
