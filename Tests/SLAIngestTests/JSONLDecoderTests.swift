import SLACore
import SLAIngest
import TestSupport
import Testing

@Suite("JSON Lines event decoding")
struct JSONLDecoderTests {
    let decoder = JSONLEventDecoder(source: "test.jsonl")

    @Test("a native event decodes with every field")
    func decodes() throws {
        let line = """
            {"id":"e-81","time":"2026-11-02T09:14:03+03:00","type":"incident.opened","incident":"INC-1042","contract":"acme-gold","service":"portal","priority":"P1","team":"L1","level":"L1","assignee":"x","status":"new"}
            """
        let e = try decoder.decode(line: Substring(line), number: 1).get()
        #expect(e.id == "e-81")
        #expect(e.time == Instant(1_793_600_043))
        #expect(e.type == .opened)
        #expect(e.incident == "INC-1042" && e.contract == "acme-gold" && e.service == "portal" && e.priority == "P1")
        #expect(e.team == "L1" && e.level == "L1" && e.assignee == "x" && e.status == "new")
    }

    @Test("a time with a fraction of a second is noted on the event; a due time with one is the next second")
    func fractions() throws {
        let line = """
            {"id":"p","time":"2026-11-02T09:14:03.250+03:00","type":"promise.made","incident":"I","promise":"callback","due":"2026-11-02T10:00:00.5+03:00"}
            """
        let e = try decoder.decode(line: Substring(line), number: 1).get()
        #expect(e.time == Instant(1_793_600_043) && e.fractional)
        #expect(e.due == Instant(1_793_602_801))
        let whole = try decoder.decode(line: Substring(line.replacingOccurrences(of: ".250", with: ".000")), number: 2)
            .get()
        #expect(whole.time == Instant(1_793_600_043) && !whole.fractional)
    }

    @Test(
        "bad lines give line, field and reason",
        arguments: [
            ("{not json", nil, "not a JSON object"),
            ("[1,2]", nil, "not a JSON object"),
            (#"{"time":"2026-11-02T09:00:00Z"}"#, "type", "missing"),
            (
                #"{"type":"incident.exploded","time":"2026-11-02T09:00:00Z"}"#, "type",
                "unknown event type 'incident.exploded'"
            ),
            (#"{"type":"incident.opened","time":"yesterday"}"#, "time", "'yesterday' is not an ISO 8601 time"),
            (
                #"{"type":"incident.opened","time":"2026-11-02T09:00:00Z","priority":1}"#, "priority",
                "expected a string"
            ),
            (
                #"{"type":"promise.made","time":"2026-11-02T09:00:00Z","due":"soon"}"#, "due",
                "'soon' is not an ISO 8601 time"
            ),
        ])
    func badLines(_ line: String, _ field: String?, _ reason: String) {
        switch decoder.decode(line: Substring(line), number: 7) {
        case .success(let e): Issue.record("decoded \(e) from a bad line")
        case .failure(let error):
            #expect(error.line == 7)
            #expect(error.field == field)
            #expect(error.reason == reason)
            #expect(error.description.hasPrefix("test.jsonl:7: "))
        }
    }

    @Test("events without an id get a stable content identity")
    func contentIdentity() throws {
        let line = Substring(#"{"type":"service.down","time":"2026-11-02T09:00:00Z","service":"api"}"#)
        let a = try decoder.decode(line: line, number: 1).get()
        let b = try decoder.decode(line: line, number: 99).get()
        #expect(a.id == b.id)
        #expect(a.id.hasPrefix("test.jsonl:"))
        let other = try decoder.decode(
            line: Substring(#"{"type":"service.up","time":"2026-11-02T09:00:00Z","service":"api"}"#), number: 1
        ).get()
        #expect(other.id != a.id)
    }

    @Test("a file with blank lines, CRLF and junk keeps every good event")
    func wholeFile() {
        let text =
            "\n" + #"{"id":"a","type":"service.down","time":"2026-11-02T09:00:00Z","service":"s"}"#
            + "\r\n\u{1}\u{2}binary\n   \n"
            + #"{"id":"b","type":"service.up","time":"2026-11-02T10:00:00Z","service":"s"}"#
        let (events, errors) = decoder.decodeAll(text)
        #expect(events.map(\.id) == ["a", "b"])
        #expect(errors.map(\.line) == [3])
    }

    @Test("a file decoded in parts on several threads gives the events and errors of each line decoded alone")
    func inParts() {
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        // About 600 KB: enough for seven runs of at least 64 KiB. Every kind of line: events,
        // blank lines, lines of spaces, CRLF endings, junk, a duplicate id (the decoder does not
        // judge those).
        var lines: [String] = []
        for k in 0..<6_000 {
            switch rng.next() % 10 {
            case 0: lines.append("")
            case 1: lines.append("  \t ")
            case 2: lines.append(#"{"id":"e\#(k)","type":"incident.opened","time":"bad"}"#)
            case 3:
                lines.append(
                    #"{"id":"e\#(k)","type":"service.down","time":"2026-11-02T09:00:00Z","service":"s"}"# + "\r")
            default:
                lines.append(
                    #"{"id":"e\#(k % 5_000)","time":"2026-11-02T09:14:03+03:00","type":"incident.updated","incident":"INC-\#(k)","team":"L\#(k % 7)","assignee":"someone with a long name \#(k)"}"#
                )
            }
        }
        for ending in ["", "\n", "\n\n"] {
            let text = lines.joined(separator: "\n") + ending
            // The oracle: each line alone, numbered from 1, its CR dropped, blank ones skipped (on
            // bytes: a String takes CR LF for one character).
            var expected: (events: [SLAEvent], errors: [LineError]) = ([], [])
            for (i, line) in Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
                let content = line.last == 0x0D ? line.dropLast() : line
                guard content.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
                switch Array(content).withUnsafeBytes({ decoder.decode(bytes: $0, number: i + 1) }) {
                case .success(let e): expected.events.append(e)
                case .failure(let e): expected.errors.append(e)
                }
            }
            #expect(!expected.events.isEmpty && !expected.errors.isEmpty)
            for parts in [1, 2, 3, 7] {
                var copy = text
                let got = copy.withUTF8 { decoder.decodeAll(bytes: UnsafeRawBufferPointer($0), parts: parts) }
                #expect(
                    got.events == expected.events && got.errors == expected.errors,
                    "\(parts) parts, ending \(ending.debugDescription) (SLAD_TEST_SEED=\(seed))")
            }
        }
    }

    @Test("non-ASCII text is kept as it is, invalid UTF-8 in a value rejects the line")
    func utf8() throws {
        func decode(_ bytes: [UInt8]) -> Result<SLAEvent, LineError> {
            bytes.withUnsafeBytes { decoder.decode(bytes: $0, number: 1) }
        }
        let head = Array(
            #"{"id":"e-1","time":"2026-11-02T09:14:03Z","type":"incident.updated","incident":"INC-1","team":""#.utf8)
        let good = try decode(head + Array(#"Équipe ✓ 🚀"}"#.utf8)).get()
        #expect(good.team == "Équipe ✓ 🚀")
        // A lone continuation byte, a truncated sequence, an overlong encoding: each in a plain
        // value (no escapes), and once with an escape beside it.
        for bad: [UInt8] in [[0x80], [0xC3], [0xE2, 0x9C], [0xC0, 0xAF], [0xFF]] {
            #expect(throws: LineError.self) { try decode(head + bad + Array(#""}"#.utf8)).get() }
            #expect(throws: LineError.self) { try decode(head + bad + Array(#"\n"}"#.utf8)).get() }
        }
    }
}
