import Foundation
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
            let bodies = Set(rows.map { String($0.dropFirst(prefix.count)) })
            for expected in m.expect {
                #expect(bodies.contains(expected), "\(golden.id) \(m.month): missing row\n  \(expected)\nin:\n\(csv)")
            }
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
