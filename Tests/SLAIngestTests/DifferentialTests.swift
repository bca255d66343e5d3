import Foundation
import SLACore
import SLAIngest
import TestSupport
import Testing

@Suite("Fast JSONL decoder agrees with the Foundation reference")
struct DifferentialTests {
    static let keys = [
        "id", "time", "type", "incident", "contract", "service", "priority", "status", "team", "level", "assignee",
        "promise",
    ]
    static let texts = [
        "INC-1", "acme gold", "Ünïcödé ✓", "quote \" inside", "back\\slash", "tab\there", "line\nbreak", "emoji 🚀", "",
        "/slash/",
    ]

    /// A JSON string literal, escaping the way a producer might (sometimes \u-escaping).
    func literal(_ s: String, _ rng: inout SeededRandom) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += rng.next() % 2 == 0 ? "\\t" : "\\u0009"
            case "/": out += rng.next() % 2 == 0 ? "/" : "\\/"
            default:
                if scalar.value > 0xFFFF, rng.next() % 2 == 0 {
                    let v = scalar.value - 0x10000
                    out += String(format: "\\u%04X\\u%04X", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF))
                } else if scalar.value > 0x7F, rng.next() % 3 == 0, scalar.value <= 0xFFFF {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    func randomLine(_ rng: inout SeededRandom) -> String {
        var parts: [String] = []
        let types = EventType.allCases.map(\.rawValue) + ["incident.unknown"]
        parts.append("\"type\":" + literal(types[Int(rng.next() % UInt64(types.count))], &rng))
        let times = [
            "2026-11-02T09:14:03+03:00", "2026-11-02T06:14:03Z", "2026-11-02T09:14", "2026-11-02T09:14:03.123-05:00",
            "garbage",
        ]
        parts.append("\"time\":" + literal(times[Int(rng.next() % UInt64(times.count))], &rng))
        for key in Self.keys.dropFirst(3) where rng.next() % 2 == 0 {
            parts.append("\"\(key)\":" + literal(Self.texts[Int(rng.next() % UInt64(Self.texts.count))], &rng))
        }
        if rng.next() % 2 == 0 { parts.append("\"id\":" + literal("e-\(rng.next() % 1000)", &rng)) }
        if rng.next() % 4 == 0 { parts.append("\"due\":\"2026-11-03T15:00:00+03:00\"") }
        if rng.next() % 3 == 0 {
            parts.append("\"extra\":{\"a\":[1,2.5,-3e2,true,false,null,{\"b\":\"c\"}],\"d\":\"\\u00e9\"}")
        }
        if rng.next() % 5 == 0 { parts.append("\"count\":42") }
        // Replace, never repeat, a key: duplicates are rejected on purpose (see below).
        if rng.next() % 7 == 0 { parts.removeAll { $0.hasPrefix("\"priority\"") }; parts.append("\"priority\":null") }
        if rng.next() % 11 == 0 { parts.removeAll { $0.hasPrefix("\"level\"") }; parts.append("\"level\":3") }
        parts.shuffle(using: &rng)
        let spaces = rng.next() % 2 == 0 ? "" : " "
        return "{" + spaces + parts.joined(separator: "," + spaces) + spaces + "}"
    }

    @Test("random valid lines: same events or the same failure field")
    func validLines() {
        let fast = JSONLEventDecoder(source: "s")
        let reference = ReferenceJSONLDecoder(source: "s")
        var rng = SeededRandom(seed: 2026)
        for n in 0..<3_000 {
            let line = randomLine(&rng)
            let a = fast.decode(line: Substring(line), number: n)
            let b = reference.decode(line: Substring(line), number: n)
            switch (a, b) {
            case (.success(let x), .success(let y)): #expect(x == y, "\(line)")
            case (.failure(let x), .failure(let y)):
                #expect(x.field == y.field, "\(line)")
                #expect(x.reason == y.reason, "\(line)")
            default: Issue.record("decoders disagree on \(line): \(a) vs \(b)")
            }
        }
    }

    @Test("a repeated known key is rejected as ambiguous, a repeated unknown key is ignored")
    func duplicateKeys() {
        let fast = JSONLEventDecoder(source: "s")
        let line = #"{"type":"service.down","time":"2026-11-02T06:14:03Z","service":"a","service":"b"}"#
        guard case .failure(let e) = fast.decode(line: Substring(line), number: 3) else {
            Issue.record("a duplicate key was accepted")
            return
        }
        #expect(e.field == "service" && e.reason == "duplicate key")
        let ok = #"{"type":"service.down","time":"2026-11-02T06:14:03Z","service":"a","x":1,"x":2}"#
        #expect((try? fast.decode(line: Substring(ok), number: 1).get())?.service == "a")
        let escaped = #"{"typ\u0065":"service.down","time":"2026-11-02T06:14:03Z","s\u0065rvice":"a"}"#
        let reference = ReferenceJSONLDecoder(source: "s")
        #expect(
            (try? fast.decode(line: Substring(escaped), number: 1).get())
                == (try? reference.decode(line: Substring(escaped), number: 1).get()))
        #expect((try? fast.decode(line: Substring(escaped), number: 1).get())?.service == "a")
    }

    @Test("corrupted lines never crash, and whatever both accept is equal")
    func corruptedLines() {
        let fast = JSONLEventDecoder(source: "s")
        let reference = ReferenceJSONLDecoder(source: "s")
        var rng = SeededRandom(seed: 99)
        var rejected = 0
        for n in 0..<3_000 {
            var bytes = Array(randomLine(&rng).utf8)
            switch rng.next() % 4 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1: bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count)))
            default: bytes += Array(",}".utf8)
            }
            let a = bytes.withUnsafeBytes { fast.decode(bytes: $0, number: n) }
            let b = reference.decode(line: Substring(String(decoding: bytes, as: UTF8.self)), number: n)
            if case .success(let x) = a, case .success(let y) = b, String(validating: bytes, as: UTF8.self) != nil {
                #expect(x == y)
            }
            if case .failure = a { rejected += 1 }
        }
        #expect(rejected > 500, "corruption should reject many lines")
    }
}
