import Foundation
import SLAAPI
import SLACore
import SLAReport
import Testing

private let document = Result { try SemanticsDocument.load("docs/reports.md") }

@Suite("docs/reports.md golden reports")
struct ReportGoldenTests {
    static let reports: [GoldenReport] = (try? document.get().reports) ?? []
    static let configuration = Result { try document.get().configuration() }

    @Test("the document holds at least 10 hand-computed reports, each with money expectations")
    func documentIsComplete() throws {
        let doc = try document.get()
        #expect(doc.reports.count >= 10)
        for r in doc.reports {
            #expect(!r.months.isEmpty, "\(r.id) names no month")
            for m in r.months {
                #expect(m.expect.contains { $0.hasPrefix("summary,total,") }, "\(r.id) \(m.month) checks no total")
                #expect(!m.state.isEmpty, "\(r.id) \(m.month) checks no state")
            }
        }
    }

    @Test("report", arguments: reports)
    func report(_ golden: GoldenReport) throws {
        let config = try Self.configuration.get()
        let contract = try #require(config.contracts.first { $0.id == golden.contract }, "unknown contract")
        let events = try scenarioEvents(golden.events, contract: contract, scenario: golden.id)
        let asOf = try #require(ISO8601.parse(golden.asOf)?.instant(in: contract.zone), "\(golden.id): bad as-of")
        let result = Replay.run(contracts: config.contracts, events: events, asOf: asOf)
        #expect(result.rejections.isEmpty, "\(golden.id): \(result.rejections)")
        for m in golden.months {
            let month = try #require(YearMonth(parsing: m.month))
            var document = ReportDocument(result, contracts: config.contracts, month: month)
            document.reports.removeAll { $0.contract != golden.contract }
            #expect(document.reports.count == 1, "\(golden.id): one report for \(m.month)")
            let csv = ReportRenderer.csv(document)
            let rows = csv.split(separator: "\r\n").dropFirst().map(String.init)
            let prefix = "\(golden.contract),\(m.month),\(m.state),"
            for row in rows { #expect(row.hasPrefix(prefix), "\(golden.id): row not \(prefix)…: \(row)") }
            let bodies = rows.map { String($0.dropFirst(prefix.count)) }
            #expect(
                bodies == m.expect,
                "\(golden.id) \(m.month): the rows are not the expected ones\n\(lineDiff(m.expect, bodies))")
            // Same inputs, same bytes: CSV and JSON rendered twice, and from a shuffled event order.
            let again = Replay.run(contracts: config.contracts, events: events.reversed(), asOf: asOf)
            var second = ReportDocument(again, contracts: config.contracts, month: month)
            second.reports.removeAll { $0.contract != golden.contract }
            #expect(ReportRenderer.csv(second) == csv)
            #expect(ReportRenderer.render(second, as: .json) == ReportRenderer.render(document, as: .json))
        }
    }

    @Test("JSON round-trips: a decoded report renders to the same bytes in every format")
    func jsonRoundTrip() throws {
        let config = try Self.configuration.get()
        for golden in Self.reports {
            let contract = try #require(config.contracts.first { $0.id == golden.contract })
            let events = try scenarioEvents(golden.events, contract: contract, scenario: golden.id)
            let asOf = ISO8601.parse(golden.asOf)?.instant(in: contract.zone)
            let document = ReportDocument(
                Replay.run(contracts: config.contracts, events: events, asOf: asOf), contracts: config.contracts)
            let json = ReportRenderer.render(document, as: .json)
            let decoded = try APIJSON.decode(ReportDocument.self, from: json)
            #expect(decoded == document)
            for format in ReportFormat.allCases {
                #expect(ReportRenderer.render(decoded, as: format) == ReportRenderer.render(document, as: format))
            }
        }
    }
}

@Suite("Large months")
struct LargeReportTests {
    @Test("a month of 120 000 breach lines keeps every line, in order, in the document and in CSV")
    func manyLines() throws {
        let eur = Currency(code: "EUR")!
        let utc = BusinessCalendar.twentyFourSeven(zone: .utc)
        let contract = Contract(
            id: "big", customer: "Big, Inc.", calendar: utc, fee: Money(parsing: "100.00", currency: eur)!,
            priorities: [PriorityTerms(name: "P1", reaction: 900, resolution: 14_400, calendar: utc)],
            penalties: PenaltyRules(
                resolution: [
                    "P1": BreachPenalty(
                        fixed: Money(parsing: "5.00", currency: eur)!,
                        perHourLate: Money(parsing: "1.00", currency: eur)!)
                ]))
        let start = Int64(1_790_812_800)  // 2026-10-01T00:00:00Z
        let breach = Threshold(kind: .breach, at: .hundred)
        // Breach instants run backwards against incident numbers: the document's order is the
        // statement's, not the order incidents were read in.
        let verdicts = (0..<120_000).map { n in
            let at = Instant(start + Int64(120_000 - n) * 20)
            return IncidentVerdict(
                incident: "INC-\(n)", contract: "big", service: nil, openedAt: Instant(start), openingPriority: "P1",
                priority: "P1", status: .resolved, handoffs: 0, covered: true,
                clocks: [
                    ClockVerdict(
                        metric: .resolution, priority: "P1", target: 14_400, elapsed: 14_400 + Int64(n % 7_200),
                        outcome: .breached, stoppedAt: nil,
                        crossings: [Crossing(threshold: breach, at: at, target: 14_400, priority: "P1")], upcoming: [],
                        calendarID: "24x7", runningSince: nil)
                ], asOf: Instant(start))
        }
        let statement = StatementBuilder.statement(
            contract: contract, month: YearMonth(year: 2026, month: 10), verdicts: verdicts,
            services: ServiceTimeline.build(from: [], asOf: Instant(start)).0, asOf: Instant(start + 40 * 86_400))
        let report = MonthlyReport(statement, zone: .utc, asOf: Instant(start + 40 * 86_400), state: .final)
        #expect(report.breaches.count == 120_000)
        let rows = ReportRenderer.csv(ReportDocument(month: "2026-10", reports: [report])).split(separator: "\r\n")
            .filter { $0.contains(",breach,") }
        #expect(rows.count == 120_000)
        for (k, line) in statement.breaches.enumerated() {
            let n = 119_999 - k
            #expect(line.incident == "INC-\(n)")
            let b = report.breaches[k]
            #expect(b.incident == line.incident && b.at == ISO8601.format(line.at, in: .utc))
            #expect(b.amount.minorUnits == 500 + 100 * ((Int64(n % 7_200) + 3_599) / 3_600))
            let expected =
                "big,2026-10,final,breach,resolution,\(b.incident),resolution,P1,\(b.at),14400,\(b.actualSeconds),\(b.overBySeconds),,\(b.amount.amount),EUR,\(b.rule)"
            if rows[k] != expected {
                Issue.record("row \(k): \(rows[k]) is not \(expected)")
                break
            }
        }
    }

    @Test(
        "breach rows written from statement lines are the bytes of the breaches one by one: quoting, a zone with a DST change, promises, both halves"
    )
    func statementRowsMatchBreaches() throws {
        let eur = Currency(code: "EUR")!
        let berlin = BusinessCalendar.twentyFourSeven(zone: ZoneRules(timeZone: TimeZone(identifier: "Europe/Berlin")!))
        func money(_ text: String) -> Money { Money(parsing: text, currency: eur)! }
        let contract = Contract(
            id: "quote, \"q\"", customer: "Q", calendar: berlin, fee: money("100.00"),
            priorities: [PriorityTerms(name: "P,1", reaction: 900, resolution: 14_400, calendar: berlin)],
            penalties: PenaltyRules(
                reaction: ["P,1": BreachPenalty(fixed: money("1.50"))],
                resolution: ["P,1": BreachPenalty(fixed: money("0.00"), perHourLate: money("2.00"))],
                promise: BreachPenalty(fixed: money("3.00"))))
        let start = Int64(1_790_805_600)  // 2026-10-01T00:00:00+02:00; summer time ends on the 25th
        let breach = Threshold(kind: .breach, at: .hundred)
        let ids = ["INC-1", "with,comma", "with \"quote\"", "line\nbreak", "", "Ünïcode-Ω"]
        let metrics: [Metric] = [.reaction, .resolution, .promise("call, back")]
        let verdicts = (0..<26_000).map { n in
            IncidentVerdict(
                incident: ids[n % ids.count] + "-\(n)", contract: contract.id, service: nil, openedAt: Instant(start),
                openingPriority: "P,1", priority: "P,1", status: .resolved, handoffs: 0, covered: true,
                clocks: (0..<2).map { c in
                    let metric = metrics[(n + c) % 3]
                    let target: Int64 = metric == .resolution ? 14_400 : 900
                    let at = Instant(start + Int64(n) * 103 + Int64(c))
                    return ClockVerdict(
                        metric: metric, priority: "P,1", target: target, elapsed: target + Int64(n % 9_000),
                        outcome: .breached, stoppedAt: nil,
                        crossings: [Crossing(threshold: breach, at: at, target: target, priority: "P,1")],
                        upcoming: [], calendarID: "24x7", runningSince: nil)
                }, asOf: Instant(start))
        }
        let month = YearMonth(year: 2026, month: 10)
        let statement = StatementBuilder.statement(
            contract: contract, month: month, verdicts: verdicts,
            services: ServiceTimeline.build(from: [], asOf: Instant(start)).0, asOf: Instant(start + 40 * 86_400))
        let report = MonthlyReport(statement, zone: contract.zone, asOf: Instant(start + 40 * 86_400), state: .final)
        #expect(report.breaches.statementLines != nil)
        #expect(report.breaches.count == 52_000)
        var oneByOne = report
        oneByOne.breaches = MonthlyReport.Breaches(Array(report.breaches))
        #expect(oneByOne.breaches.statementLines == nil)
        let fast = ReportRenderer.render(ReportDocument(month: "2026-10", reports: [report]), as: .csv)
        let slow = ReportRenderer.render(ReportDocument(month: "2026-10", reports: [oneByOne]), as: .csv)
        #expect(fast.count > 52_000 * 100)
        #expect(fast == slow)
        let text = String(decoding: fast, as: UTF8.self)
        #expect(text.contains("+02:00") && text.contains("+01:00"))
        #expect(text.contains(#""with ""quote""-"#) && text.contains(#""promise:call, back""#))
    }
}
