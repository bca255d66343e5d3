import SLACore
import SLAIngest
import Testing

@Suite("CSV reading")
struct CSVReaderTests {
    @Test("quotes, doubled quotes, quoted newlines, CRLF, a BOM and blank lines")
    func rfc4180() {
        let text = "\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n2,\"two\nlines\",\n3,,\"\""
        let records = Array(CSVReader(bytes: Array(text.utf8)))
        #expect(
            records.map(\.fields) == [
                ["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "two\nlines", ""], ["3", "", ""],
            ])
        #expect(records.map(\.line) == [1, 2, 4, 6])
        #expect(records[0].offset == 3)
    }

    @Test("invalid UTF-8 becomes U+FFFD, the row survives")
    func invalidUTF8() {
        let records = Array(CSVReader(bytes: Array("a,b\n".utf8) + [0x31, 0x2C, 0xFF, 0xFE, 0x0A]))
        #expect(records.count == 2)
        #expect(records[1].fields == ["1", "\u{FFFD}\u{FFFD}"])
    }
}

@Suite("Status-snapshot mapping")
struct SnapshotMapperTests {
    static let mapping = SourceMapping(
        name: "desk", format: .csv(delimiter: UInt8(ascii: ",")), timeFormat: .pattern("%d-%m-%Y %H:%M"), zone: .utc,
        contract: "c",
        fields: .init(
            incident: "id", time: "at", status: ["state"], priority: "prio", team: "team", openedTime: "opened"),
        priorities: ["1": "P1", "2": "P2"],
        statuses: [
            "New": .active(status: "new", acknowledge: false), "Work": .active(status: "work", acknowledge: true),
            "Wait": .active(status: "pending_customer", acknowledge: true), "Done": .resolved, "Closed": .closed,
            "Junk": .skip(reason: "junk rows"),
        ], unknownValues: ["?"])

    func read(_ rows: [String]) -> MappedSource {
        let text = (["id,at,state,prio,team,opened"] + rows).joined(separator: "\n")
        return SnapshotMapper.read(bytes: Array(text.utf8), mapping: Self.mapping)
    }

    func summary(_ events: [SLAEvent]) -> [String] {
        events.map { e in
            var s = "\(e.id) \(e.type.rawValue) \(ISO8601.format(e.time, in: .utc))"
            for (k, v) in [("priority", e.priority), ("status", e.status), ("team", e.team), ("contract", e.contract)] {
                if let v { s += " \(k)=\(v)" }
            }
            return s
        }
    }

    @Test("first row opens, changes become updates, ack once, resolve, reopen, close")
    func lifecycle() {
        let r = read([
            "A,01-03-2016 09:05,New,2,L1,01-03-2016 09:00",
            "A,01-03-2016 09:10,New,2,L1,01-03-2016 09:00",
            "A,01-03-2016 09:20,Work,2,L2,01-03-2016 09:00",
            "A,01-03-2016 09:30,Wait,1,L2,01-03-2016 09:00",
            "A,01-03-2016 10:00,Done,1,L2,01-03-2016 09:00",
            "A,01-03-2016 11:00,Work,1,L2,01-03-2016 09:00",
            "A,01-03-2016 12:00,Done,1,L2,01-03-2016 09:00",
            "A,02-03-2016 12:00,Closed,1,L2,01-03-2016 09:00",
            "A,03-03-2016 12:00,Closed,1,L2,01-03-2016 09:00",
        ])
        #expect(r.errors.isEmpty)
        #expect(r.rows == 9)
        #expect(r.skipped == ["no_change": 2])
        #expect(
            summary(r.events) == [
                "desk:2:open incident.opened 2016-03-01T09:00:00Z priority=P2 status=new team=L1 contract=c",
                "desk:4:upd incident.updated 2016-03-01T09:20:00Z status=work team=L2",
                "desk:4:ack incident.acknowledged 2016-03-01T09:20:00Z",
                "desk:5:upd incident.updated 2016-03-01T09:30:00Z priority=P1 status=pending_customer",
                "desk:6:res incident.resolved 2016-03-01T10:00:00Z",
                "desk:7:reo incident.reopened 2016-03-01T11:00:00Z status=work",
                "desk:8:res incident.resolved 2016-03-01T12:00:00Z",
                "desk:9:clo incident.closed 2016-03-02T12:00:00Z",
            ])
    }

    @Test("an open stamped after the first row takes the row time; a first row may already be resolved")
    func openTimes() {
        let r = read(["B,01-03-2016 09:00,Done,1,?,01-03-2016 10:00"])
        #expect(
            summary(r.events) == [
                "desk:2:open incident.opened 2016-03-01T09:00:00Z priority=P1 contract=c",
                "desk:2:res incident.resolved 2016-03-01T09:00:00Z",
            ])
    }

    @Test("rows that cannot be mapped are quarantined with line, field and reason; skips are counted")
    func rejections() {
        let r = read([
            "C,01-03-2016 09:00,Sleeping,1,L1,01-03-2016 09:00",
            "C,01-03-2016 9:00,New,1,L1,01-03-2016 09:00",
            "C,01-03-2016 09:00,New,7,L1,01-03-2016 09:00",
            ",01-03-2016 09:00,New,1,L1,01-03-2016 09:00",
            "C,01-03-2016 09:00,Junk,1,L1,01-03-2016 09:00",
            "C,01-03-2016 09:00,New",
            "D,01-03-2016 09:00,Closed,1,L1,01-03-2016 09:00",
            "D,01-03-2016 10:00,Work,1,L1,01-03-2016 09:00",
        ])
        #expect(
            r.errors.map { "\($0)" } == [
                "desk:2: state: status 'Sleeping' is not mapped",
                "desk:3: at: '01-03-2016 9:00' does not match the time format",
                "desk:4: prio: priority '7' is not mapped",
                "desk:5: id: missing incident id",
                "desk:7: 3 fields where the header has 6",
                "desk:9: row after the incident was closed",
            ])
        #expect(r.skipped == ["junk rows": 1])
    }

    @Test("a missing column is reported once against the header")
    func missingColumn() {
        let r = SnapshotMapper.read(bytes: Array("id,at\nA,01-03-2016 09:00\n".utf8), mapping: Self.mapping)
        #expect(r.errors.map(\.field) == ["state", "prio", "team", "opened"])
        #expect(r.events.isEmpty)
    }

    @Test("time patterns")
    func patterns() {
        #expect(TimePattern.parse("29-02-2016 01:23", pattern: "%d-%m-%Y %H:%M") == 1_456_708_980)
        #expect(TimePattern.parse("2016/02/29 01:23:45", pattern: "%Y/%m/%d %H:%M:%S") == 1_456_709_025)
        #expect(TimePattern.parse("30-02-2016 01:23", pattern: "%d-%m-%Y %H:%M") == nil)
        #expect(TimePattern.parse("29-02-2016 01:23 ", pattern: "%d-%m-%Y %H:%M") == nil)
    }
}

@Suite("Policies pick the contract and the priority (docs/semantics.md §11)")
struct PolicyMappingTests {
    static let itil = PriorityMatrix(
        name: "itil",
        cells: [
            "1": ["1": "P1", "2": "P2", "3": "P3"], "2": ["1": "P2", "2": "P3", "3": "P4"],
            "3": ["1": "P3", "2": "P4", "3": "P4"],
        ])

    /// A desk whose rows name no contract: category, channel, impact and urgency are attributes.
    static var mapping: SourceMapping {
        var m = SourceMapping(
            name: "desk", format: .csv(delimiter: UInt8(ascii: ",")), timeFormat: .pattern("%d-%m-%Y %H:%M"),
            zone: .utc, contract: nil,
            fields: .init(
                incident: "id", time: "at", status: ["state"], priority: "prio", team: "team", contract: "contract"),
            priorities: ["1": "P1", "2": "P2", "3": "P3", "4": "P4"],
            statuses: ["New": .active(status: "new", acknowledge: false), "Done": .resolved], unknownValues: ["?"])
        m.attributes = ["category": "category", "channel": "channel", "impact": "impact", "urgency": "urgency"]
        m.policies = PolicyBook(policies: [
            Policy(name: "network-gold", conditions: ["category": ["network"]], contract: "gold", priority: "P1"),
            Policy(name: "phone", conditions: ["channel": ["phone"]], contract: "silver", matrix: itil),
            Policy(name: "portal", conditions: ["channel": ["portal"]], contract: "gold", matrix: itil),
        ])
        return m
    }

    func read(_ rows: [String]) -> MappedSource {
        let text = (["id,at,state,prio,team,contract,category,channel,impact,urgency"] + rows).joined(separator: "\n")
        return SnapshotMapper.read(bytes: Array(text.utf8), mapping: Self.mapping)
    }

    func summary(_ events: [SLAEvent]) -> [String] {
        events.map { e in
            var s = "\(e.id) \(e.type.rawValue.dropFirst("incident.".count))"
            for (k, v) in [("contract", e.contract), ("priority", e.priority)] { if let v { s += " \(k)=\(v)" } }
            return s
        }
    }

    @Test(
        "first match wins; the matrix gives the priority; a contract the row names wins; no match is quarantined as no_policy"
    )
    func match() {
        let r = read([
            // A network incident by phone: the network policy comes first.
            "A,01-03-2016 09:00,New,?,?,?,network,phone,2,2",
            // By phone, impact 1 and urgency 2: the matrix gives P2 under silver.
            "B,01-03-2016 09:00,New,?,?,?,email,phone,1,2",
            // The row names its contract and its priority: both win, no policy is asked.
            "C,01-03-2016 09:00,New,4,?,bronze,network,phone,1,1",
            // Nothing matches.
            "D,01-03-2016 09:00,New,?,?,?,email,fax,2,2",
        ])
        #expect(
            summary(r.events) == [
                "desk:2:open opened contract=gold priority=P1", "desk:3:open opened contract=silver priority=P2",
                "desk:4:open opened contract=bronze priority=P4",
            ])
        #expect(
            r.errors.map { "\($0.line) \($0.reason)" } == [
                "5 no_policy: no policy matches category=email, channel=fax"
            ])
    }

    @Test(
        "a change of the fields mid-incident: the contract stays the one the opening's policy picked; the priority follows the row through that contract's first matching policy"
    )
    func changeMidIncident() {
        let r = read([
            // Opened by portal under gold, impact 2 × urgency 2: P3.
            "E,01-03-2016 09:00,New,?,?,?,email,portal,2,2",
            // Impact raised: P2 by the matrix.
            "E,01-03-2016 10:00,New,?,?,?,email,portal,1,2",
            // Now it reads as a network incident: gold's network policy matches first, P1.
            "E,01-03-2016 11:00,New,?,?,?,network,portal,1,2",
            // By phone now, which would pick silver: the contract stays gold, and no gold
            // policy matches the row, so the priority stays.
            "E,01-03-2016 12:00,New,?,?,?,email,phone,3,3",
            "E,01-03-2016 13:00,Done,?,?,?,email,phone,3,3",
        ])
        #expect(
            summary(r.events) == [
                "desk:2:open opened contract=gold priority=P3", "desk:3:upd updated priority=P2",
                "desk:4:upd updated priority=P1", "desk:6:res resolved",
            ])
        #expect(r.errors.isEmpty)
    }
}

@Suite("Policies for native events (attributes of an opening that names no contract)")
struct NativePolicyTests {
    static let policies = PolicyBook(policies: [
        Policy(name: "network-gold", conditions: ["category": ["network"]], contract: "gold", priority: "P1"),
        Policy(name: "phone", conditions: ["channel": ["phone"]], contract: "silver", matrix: PolicyMappingTests.itil),
        Policy(name: "l2-bronze", conditions: ["level": ["L2"]], contract: "bronze"),
    ])

    /// Each line decoded by the fast and the reference decoder, which must agree: the events,
    /// or the errors, as one line of text each.
    static func decoded(_ lines: [String]) -> [String] {
        let fast = JSONLEventDecoder(source: "desk", policies: policies)
        let reference = ReferenceJSONLDecoder(source: "desk", policies: policies)
        return lines.enumerated().map { k, line in
            let a = fast.decode(line: Substring(line), number: k + 1)
            let b = reference.decode(line: Substring(line), number: k + 1)
            #expect(a == b, "line \(k + 1): the fast and the reference decoder differ")
            switch a {
            case .success(let e):
                return "\(e.id) \(e.type.rawValue) contract=\(e.contract ?? "-") priority=\(e.priority ?? "-")"
            case .failure(let error): return error.description
            }
        }
    }

    @Test(
        "an opening without a contract takes the first matching policy's contract and priority; one that names its contract, and every later event, is read as written; no match, a matrix gap, a bad attributes object are located errors"
    )
    func openings() {
        let t = "\"time\":\"2026-03-02T09:00:00Z\""
        let lines = [
            // The network policy comes first, whatever the channel.
            #"{"id":"a","#
                + t
                + #","type":"incident.opened","incident":"A","attributes":{"category":"network","channel":"phone"}}"#,
            // By phone, impact 1 × urgency 2: P2 from the matrix, under silver.
            #"{"id":"b","#
                + t
                + #","type":"incident.opened","incident":"B","priority":"P4","attributes":{"channel":"phone","impact":"1","urgency":"2"}}"#,
            // `level` is an attribute under its own name; the policy gives no priority: the event's.
            #"{"id":"c","# + t + #","type":"incident.opened","incident":"C","priority":"P3","level":"L2"}"#,
            // Names its contract: no policy is asked, its own priority counts.
            #"{"id":"d","#
                + t
                + #","type":"incident.opened","incident":"D","contract":"bronze","priority":"P4","attributes":{"category":"network"}}"#,
            // A later event is read as written: no contract is picked for it.
            #"{"id":"e","# + t + #","type":"incident.updated","incident":"A","attributes":{"category":"email"}}"#,
            // Nothing matches.
            #"{"id":"f","# + t + #","type":"incident.opened","incident":"F","attributes":{"channel":"fax"}}"#,
            // The matrix has no cell for impact 4.
            #"{"id":"g","#
                + t
                + #","type":"incident.opened","incident":"G","attributes":{"channel":"phone","impact":"4","urgency":"1"}}"#,
            // The policy gives no priority and the event names none.
            #"{"id":"h","# + t + #","type":"incident.opened","incident":"H","level":"L2"}"#,
            // Attributes are texts.
            #"{"id":"i","# + t + #","type":"incident.opened","incident":"I","attributes":{"impact":1}}"#,
            #"{"id":"j","# + t + #","type":"incident.opened","incident":"J","attributes":["network"]}"#,
        ]
        #expect(
            Self.decoded(lines) == [
                "a incident.opened contract=gold priority=P1",
                "b incident.opened contract=silver priority=P2",
                "c incident.opened contract=bronze priority=P3",
                "d incident.opened contract=bronze priority=P4",
                "e incident.updated contract=- priority=-",
                "desk:6: attributes: no_policy: no policy matches category=(none), channel=fax, level=(none)",
                "desk:7: attributes: policy phone: matrix itil has no priority for impact '4' and urgency '1'",
                "desk:8: priority: missing: policy l2-bronze gives no priority and the event names none",
                "desk:9: attributes.impact: expected a string",
                "desk:10: attributes: expected an object",
            ])
    }

    @Test("without policies an opening without a contract decodes as before (the engine then refuses it)")
    func noPolicies() {
        let line =
            #"{"id":"a","time":"2026-03-02T09:00:00Z","type":"incident.opened","incident":"A","priority":"P1","attributes":{"category":"network"}}"#
        let e = try? JSONLEventDecoder(source: "desk").decode(line: Substring(line), number: 1).get()
        #expect(e?.contract == nil && e?.priority == "P1")
    }
}
