import SLACore

/// Penalties of the same events under two contract versions, per contract and month: what a
/// proposed SLA would have cost (sales negotiating a new one).
public struct PenaltyDiff: Sendable {
    /// One contract and month.
    public struct Row: Sendable, Equatable {
        /// Contract id.
        public var contract: String
        /// `YYYY-MM`.
        public var month: String
        /// Total under the base configuration (nil: the contract or month has no report there).
        public var base: Money?
        /// Total under the proposed configuration.
        public var proposed: Money?

        /// Proposed minus base, when both exist in the same currency.
        public var difference: Money? {
            guard let base, let proposed, base.currency == proposed.currency else { return nil }
            return proposed - base
        }
    }

    /// Rows ordered by contract, then month.
    public var rows: [Row]

    /// Compares the statements of two replays of the same events.
    public init(base: ReplayResult, proposed: ReplayResult, month: YearMonth? = nil) {
        var table: [String: Row] = [:]
        for s in base.statements where month == nil || s.month == month {
            let key = "\(s.contract)\u{0}\(s.month)"
            table[key, default: Row(contract: s.contract, month: s.month.description)].base = s.total
        }
        for s in proposed.statements where month == nil || s.month == month {
            let key = "\(s.contract)\u{0}\(s.month)"
            table[key, default: Row(contract: s.contract, month: s.month.description)].proposed = s.total
        }
        rows = table.values.sorted { ($0.contract, $0.month) < ($1.contract, $1.month) }
    }

    /// RFC 4180 CSV: contract, month, base, proposed, difference, currency.
    public func csv() -> String {
        var out = "contract,month,base_total,proposed_total,difference,currency\r\n"
        for r in rows {
            let currency = (r.proposed ?? r.base)?.currency.code ?? ""
            out +=
                [
                    r.contract, r.month, r.base?.amountText ?? "", r.proposed?.amountText ?? "",
                    r.difference?.amountText ?? "", currency,
                ].map(CSVWriter.escape).joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// An aligned table with a note on missing sides.
    public func table(base: String, proposed: String) -> String {
        var lines = [["CONTRACT", "MONTH", "BASE", "PROPOSED", "DIFFERENCE"]]
        for r in rows {
            lines.append([
                r.contract, r.month, r.base?.description ?? "-", r.proposed?.description ?? "-",
                r.difference.map { ($0.minorUnits > 0 ? "+" : "") + $0.description } ?? "-",
            ])
        }
        return "base: \(base)\nproposed: \(proposed)\n\n" + ReplayRenderer.align(lines)
            + "\ndifference = proposed − base; '-' where a side has no report (contract absent, or other currency)\n"
    }
}
