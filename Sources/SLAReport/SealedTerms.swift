import SLAAPI
import SLACore

/// A configured contract whose terms differ from those that judged one of its sealed months.
public struct SealedTermsConflict: Sendable, Hashable, CustomStringConvertible {
    /// The contract id.
    public var contract: String
    /// Its last sealed month.
    public var sealedMonth: String
    /// What differs.
    public var reason: String

    /// `contract C: reason`.
    public var description: String { "contract \(contract): \(reason)" }

    /// What to do instead.
    public var hint: String {
        "a sealed month is never judged again: keep the versions in force up to \(sealedMonth) as they were and write the new terms as a version with a later effective: (contract versions, docs/semantics.md §10)"
    }
}

extension ReportBook {
    /// The contracts whose versions in force before the end of their last sealed month are not
    /// exactly those the sealed report names (same names, effective instants, reach and
    /// hashes): editing them, removing one or adding one there would judge sealed months again.
    /// Months sealed before reports named their versions are not checked.
    public func sealedTermsConflicts() throws -> [SealedTermsConflict] {
        let lastSealed = try store.lastSealedMonths()
        var out: [SealedTermsConflict] = []
        for c in contracts {
            guard let month = lastSealed[c.id], let ym = YearMonth(parsing: month),
                let body = try store.sealedBody(contract: c.id, month: month),
                let sealed = try APIJSON.decode(MonthlyReport.self, from: body).versions
            else { continue }
            let end = c.zone.startOfDay(ym.next.firstDay)
            let now = c.versions.filter { ($0.effective ?? end) < end || $0 === c }
            let zone = c.zone
            for s in sealed {
                guard let v = now.first(where: { $0.version == s.version }) else {
                    out.append(
                        .init(
                            contract: c.id, sealedMonth: month,
                            reason:
                                "version \(s.version), which judged sealed month \(month), is no longer in force there")
                    )
                    continue
                }
                let effective = v.effective.map { ISO8601.format($0, in: zone) }
                if v.versionHash != s.sha256 || effective != s.effective || v.appliesToOpen != s.appliesToOpen {
                    out.append(
                        .init(
                            contract: c.id, sealedMonth: month,
                            reason:
                                "version \(s.version)'s terms differ from those that judged sealed month \(month) (sha256 \(s.sha256.prefix(12))… sealed, \(v.versionHash.prefix(12))… now)"
                        ))
                }
            }
            for v in now where !sealed.contains(where: { $0.version == v.version }) {
                out.append(
                    .init(
                        contract: c.id, sealedMonth: month,
                        reason:
                            "version \(v.version) takes effect \(v.effective.map { ISO8601.format($0, in: zone) } ?? "from the start"), before the end of sealed month \(month)"
                    ))
            }
        }
        return out
    }
}
