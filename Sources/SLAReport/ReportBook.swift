import Crypto
import Foundation
import SLAAPI
import SLACore
import SLAStore
import Synchronization

/// Monthly reports from the store: sealed months as sealed, other months computed from the
/// stored verdicts advanced to the report instant, and the sealing itself.
///
/// A month is sealed once its end (in the contract zone) is `sealAfter` seconds past. Sealing
/// goes in month order per contract, so the first month not sealed is always the one after the
/// last sealed; that month carries the corrections of sealed months (docs/reports.md).
public struct ReportBook: Sendable {
    /// The store to read (and, for sealing, write).
    public var store: any ReportStore
    /// Contracts in force now.
    public var contracts: [Contract]
    /// Grace after a month's end before it is sealed, in seconds.
    public var sealAfter: Int64

    /// What earlier ``sealDue(nowMilliseconds:limit:until:)`` calls computed, for the next.
    public var memo: SealMemo?

    /// Creates a book.
    public init(store: any ReportStore, contracts: [Contract], sealAfter: Int64, memo: SealMemo? = nil) {
        self.store = store
        self.contracts = contracts
        self.sealAfter = sealAfter
        self.memo = memo
    }

    /// The totals of sealed months computed again by earlier calls of
    /// ``sealDue(nowMilliseconds:limit:until:)``, valid while the store has committed no batch
    /// since (and for the contracts they were computed with: make a new memo on a reload).
    ///
    /// A daemon seals a long history a few months per call, and each month sealed compares
    /// every sealed month before it with its seal: without the memo each call computed those
    /// again, quadratic in the months of history (a year of 100 contracts with 1 M incidents:
    /// minutes).
    public final class SealMemo: Sendable {
        private let state = Mutex<(commits: Int, totals: [String: [YearMonth: Int64]])>((-1, [:]))

        /// An empty memo.
        public init() {}

        func totals(atCommits commits: Int) -> [String: [YearMonth: Int64]] {
            state.withLock { $0.commits == commits ? $0.totals : [:] }
        }

        func keep(_ totals: [String: [YearMonth: Int64]], atCommits commits: Int) {
            state.withLock { $0 = (commits, totals) }
        }
    }

    /// Thrown for a contract id no configuration knows.
    public struct UnknownContract: Error, CustomStringConvertible {
        /// The id asked for.
        public var id: String
        /// What to say.
        public var description: String { "no contract '\(id)' is configured" }
    }

    /// The report document of `month`, for every contract valid in it (or `contract` only), as of `asOf`.
    public func document(month: YearMonth, contract: String? = nil, asOf: Instant) throws -> ReportDocument {
        if let contract, !contracts.contains(where: { $0.id == contract }) { throw UnknownContract(id: contract) }
        let chosen = contracts.filter { ($0.id == contract || contract == nil) && $0.validDays(in: month) > 0 }
        let services = try chosen.isEmpty ? [] : store.serviceEvents()
        var reports: [MonthlyReport] = []
        for c in chosen {
            let sealed = try store.sealedReports(contract: c.id)
            if let seal = sealed.first(where: { $0.month == month.description }) {
                reports.append(try decode(seal))
            } else {
                reports.append(try report(c, month: month, asOf: asOf, sealed: sealed, services: services))
            }
        }
        return ReportDocument(month: month.description, reports: reports)
    }

    /// Seals the months due by `now` (Unix milliseconds), in month order per contract, at most
    /// `limit` of them and none once `deadline` has passed: a daemon seals a long history a few
    /// months at a time between its other work, never all of it in one go.
    /// - Returns: `contract month` of each month sealed, and whether more are due.
    @discardableResult
    public func sealDue(
        nowMilliseconds now: Int64, limit: Int = .max, until deadline: ContinuousClock.Instant? = nil
    ) throws -> (sealed: [String], more: Bool) {
        let asOf = Instant(now / 1000)
        var done: [String] = []
        var services: [SLAEvent]?
        var budget = limit
        // One query says where each contract's sealing stands; only a contract never sealed
        // asks for its first incident. A daemon calls this often, a few months at a time: asking
        // every contract on every call cost a hundred queries per month sealed with a hundred
        // contracts.
        let commits = store.committedBatches
        var memoTotals = memo?.totals(atCommits: commits) ?? [:]
        defer { memo?.keep(memoTotals, atCommits: commits) }
        let lastSealed = try store.lastSealedMonths()
        func due(_ c: Contract, _ month: YearMonth) -> Bool {
            c.zone.startOfDay(month.next.firstDay).seconds + sealAfter <= asOf.seconds
        }
        for c in contracts {
            guard let start = try firstUnsealedMonth(c, lastSealed: lastSealed), due(c, start) else { continue }
            var sealed = try store.sealedReports(contract: c.id)
            // Each month sealed carries the corrections of the sealed months before it, so each
            // of those is computed again; once while no batch is committed (sealing writes no
            // incidents), not once per month sealed after them.
            var totals = memoTotals[c.id] ?? [:]
            defer { memoTotals[c.id] = totals }
            var month = start
            while due(c, month) {
                // At least one month per call, so that every call makes progress however long
                // finding it took.
                guard budget > 0, budget == limit || deadline.map({ ContinuousClock.now < $0 }) ?? true else {
                    return (done, true)
                }
                defer { month = month.next }
                guard c.validDays(in: month) > 0 else { continue }
                if services == nil { services = try store.serviceEvents() }
                var report = try report(
                    c, month: month, asOf: asOf, sealed: sealed, services: services ?? [], totals: &totals)
                report.state = .sealed
                let body = ReportRenderer.canonical(report)
                let record = SealedReport(
                    contract: c.id, month: month.description, sealedAtMilliseconds: now,
                    sha256: SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined(),
                    totalMinorUnits: report.cappedSubtotalMinorUnits, body: body)
                let carried = report.adjustments.map {
                    RecordedAdjustment(
                        sealedMonth: $0.sealedMonth, appliedMonth: month.description,
                        amountMinorUnits: $0.amount.minorUnits)
                }
                if try store.seal(record, currency: c.currency.code, carrying: carried) {
                    done.append("\(c.id) \(month)")
                }
                sealed.append(record)
                totals[month] = record.totalMinorUnits
                budget -= 1
            }
        }
        return (done, false)
    }

    /// The first month of `c` not sealed: the one after its last sealed month (`lastSealed`, from
    /// ``SLAStore/lastSealedMonths()``), else the month of its first incident; nil when it has none.
    func firstUnsealedMonth(_ c: Contract, lastSealed: [String: String]) throws -> YearMonth? {
        if let month = lastSealed[c.id].flatMap({ YearMonth(parsing: $0)?.next }) { return month }
        return try store.firstIncident(contract: c.id).map(c.month(of:))
    }

    /// The earliest instant (Unix ms) after `now` at which a month's grace ends for some contract:
    /// when `sealDue` can next find something to seal without new data in past months.
    public func nextGraceEnd(afterMilliseconds now: Int64) -> Int64? {
        let graceAgo = Instant(now / 1000 - sealAfter)
        return contracts.map { c in
            (c.zone.startOfDay(c.month(of: graceAgo).next.firstDay).seconds + sealAfter) * 1000
        }.min()
    }

    /// A computed report; when `month` is the first not sealed, with adjustments for sealed months.
    func report(
        _ c: Contract, month: YearMonth, asOf: Instant, sealed: [SealedReport], services: [SLAEvent]
    ) throws -> MonthlyReport {
        var totals: [YearMonth: Int64] = [:]
        return try report(c, month: month, asOf: asOf, sealed: sealed, services: services, totals: &totals)
    }

    /// ``report(_:month:asOf:sealed:services:)`` with `totals`, the totals of sealed months
    /// computed again as of `asOf` (minor units): those given are used, those computed are added.
    func report(
        _ c: Contract, month: YearMonth, asOf: Instant, sealed: [SealedReport], services: [SLAEvent],
        totals: inout [YearMonth: Int64]
    ) throws -> MonthlyReport {
        let statement = try statement(c, month: month, asOf: asOf, services: services)
        var adjustments: [MonthlyReport.Adjustment] = []
        let firstOpen = sealed.last.flatMap { YearMonth(parsing: $0.month)?.next }
        if month == firstOpen {
            let carried = try store.adjustments(contract: c.id)
            for s in sealed {
                guard let sealedMonth = YearMonth(parsing: s.month) else { continue }
                let already = carried.filter { $0.sealedMonth == s.month }.reduce(0) { $0 + $1.amountMinorUnits }
                let now =
                    try totals[sealedMonth]
                    ?? self.statement(c, month: sealedMonth, asOf: asOf, services: services).total.minorUnits
                totals[sealedMonth] = now
                let delta = now - s.totalMinorUnits - already
                guard delta != 0 else { continue }
                adjustments.append(
                    MonthlyReport.Adjustment(
                        sealedMonth: s.month, sealedSha256: s.sha256,
                        sealedTotal: .init(minorUnits: s.totalMinorUnits + already, currency: c.currency),
                        recomputedTotal: .init(Money(minorUnits: now, currency: c.currency)),
                        amount: .init(minorUnits: delta, currency: c.currency)))
            }
        }
        let monthEnd = c.zone.startOfDay(month.next.firstDay)
        let state: MonthlyReport.State = asOf >= monthEnd ? .final : .provisional
        return MonthlyReport(
            statement, zone: c.zone, asOf: asOf, state: state, adjustments: adjustments, contract: c)
    }

    /// The statement of one contract and month from stored verdicts advanced to `asOf`.
    func statement(_ c: Contract, month: YearMonth, asOf: Instant, services: [SLAEvent]) throws -> MonthlyStatement {
        try statement(c, month: month, asOf: asOf, timeline: Self.timeline(of: c, services: services, asOf: asOf))
    }

    /// The outages and maintenance of `c`'s services among `services`, as of `asOf`.
    static func timeline(of c: Contract, services: [SLAEvent], asOf: Instant) -> ServiceTimeline {
        let mine = Set(c.services)
        return ServiceTimeline.build(from: services.filter { $0.service.map(mine.contains) ?? false }, asOf: asOf).0
    }

    /// ``statement(_:month:asOf:services:)`` with the contract's service timeline already built.
    func statement(_ c: Contract, month: YearMonth, asOf: Instant, timeline: ServiceTimeline) throws
        -> MonthlyStatement
    {
        let start = c.zone.startOfDay(month.firstDay)
        let end = c.zone.startOfDay(month.next.firstDay)
        // One part per core: the store reads a large month in as many ranges at once.
        var parts = Array(
            repeating: StatementTally(contract: c, month: month),
            count: min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)))
        try store.forEachReportVerdict(contract: c.id, from: start, to: end, parts: &parts) { tally, v in
            v.project(to: asOf, in: c)
            tally.add(v)
        }
        // Ordered here even when one part holds everything: the statement would otherwise
        // order a copy of the lines, which are still shared with `parts`.
        Halves.each(&parts) { $0.orderLines() }
        var tally = parts[0]
        for part in parts.dropFirst() { tally.merge(part) }
        return tally.statement(services: timeline, asOf: asOf)
    }

    /// A sealed report as stored, with its seal.
    func decode(_ s: SealedReport) throws -> MonthlyReport {
        let body = try store.sealedBody(contract: s.contract, month: s.month) ?? []
        var report = try APIJSON.decode(MonthlyReport.self, from: body)
        report.seal = MonthlyReport.Seal(
            sealedAt: ISO8601.format(Instant(s.sealedAtMilliseconds / 1000), in: .utc), sha256: s.sha256)
        return report
    }
}
