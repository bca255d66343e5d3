import SLACore

/// A printable HTML page: one file, no scripts, no external assets; charts are inline SVG.
enum ReportHTML {
    static func page(_ document: ReportDocument) -> String {
        var body = document.reports.count > 1 ? totals(document.reports) : ""
        for r in document.reports { body += section(r) }
        if document.reports.isEmpty {
            body = "<p>No contract has a report for \(escape(document.month ?? "these events")).</p>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>SLA report \(escape(document.month ?? "replay"))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; color: #1b1f24; margin: 2em; }
            h1 { font-size: 1.5em; margin-bottom: 0; } h2 { font-size: 1.1em; margin-top: 1.5em; }
            .state { display: inline-block; padding: 0.1em 0.6em; border-radius: 0.3em; font-weight: 600; }
            .sealed { background: #dff3e4; color: #1a5d2b; } .final { background: #e4ecf7; color: #1d3f6e; }
            .provisional { background: #fff1cc; color: #7a5300; }
            table { border-collapse: collapse; margin: 0.5em 0; }
            th, td { border-bottom: 1px solid #d0d7de; padding: 0.25em 0.8em; text-align: left; vertical-align: top; }
            td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
            tr.total td { font-weight: 700; border-top: 2px solid #1b1f24; }
            .owed { font-size: 1.3em; margin: 0.4em 0; } .owed strong { font-size: 1.3em; }
            .muted { color: #57606a; } svg { display: block; max-width: 100%; height: auto; }
            section.contract { page-break-after: always; }
            @media print { body { margin: 1cm; } }
            </style>
            </head>
            <body>
            \(body)
            </body>
            </html>

            """
    }

    static func section(_ r: MonthlyReport) -> String {
        let stateText: String =
            switch r.state {
            case .sealed: "Sealed" + (r.seal.map { " \($0.sealedAt)" } ?? "")
            case .final: "Final, not sealed"
            case .provisional: "Provisional: figures may still change"
            }
        var html = """
            <section class="contract">
            <h1>\(escape(r.customer)) — \(escape(r.contract)), \(escape(r.month))</h1>
            <p><span class="state \(r.state.rawValue)">\(escape(stateText))</span>
            <span class="muted">period \(time(r.periodStart)) – \(time(r.periodEnd)), as of \(time(r.asOf)); times in \(escape(r.timezone))</span></p>

            """
        html +=
            "<p class=\"owed\">Total owed: <strong>\(money(r.total.amount)) \(escape(r.currency))</strong> <span class=\"muted\">(\(r.breaches.count) breach\(r.breaches.count == 1 ? "" : "es")\(r.availability.map { $0.credit.minorUnits != 0 ? ", availability credit \(money($0.credit.amount))" : "" } ?? "")\(r.capApplied ? ", capped" : "")\(r.adjustments.isEmpty ? "" : ", corrections of sealed months"))</span></p>\n"
        if let seal = r.seal { html += "<p class=\"muted\">SHA-256 \(escape(seal.sha256))</p>\n" }
        if let versions = r.versions, !versions.isEmpty {
            html +=
                "<p class=\"muted\">Terms: \(versions.map { escape(ReportRenderer.versionText($0)) }.joined(separator: "; "))</p>\n"
        }
        html += "<h2>Availability</h2>\n"
        if let a = r.availability {
            html += """
                <p>Achieved <strong>\(escape(a.achieved))</strong> against \(escape(a.target)) (\(a.met ? "met" : "missed")); \
                \(ReportRenderer.minutes(a.periodSeconds)) minutes in period, \(ReportRenderer.minutes(a.maintenanceSeconds)) maintenance excluded, \
                \(ReportRenderer.minutes(a.downtimeSeconds)) down; credit tier: \(escape(a.tierBelow.map { "below \($0) (\(a.tierCredit ?? ""))" } ?? "none")).</p>
                \(timeline(r, a))

                """
        } else {
            html += "<p class=\"muted\">The contract promises no availability.</p>\n"
        }
        html += "<h2>Incidents and compliance</h2>\n<table>\n<tr><th>Priority</th><th class=\"num\">Opened</th></tr>\n"
        for p in r.incidentsByPriority {
            html += "<tr><td>\(escape(p.priority))</td><td class=\"num\">\(p.opened)</td></tr>\n"
        }
        html +=
            "</table>\n<table>\n<tr><th>Metric</th><th class=\"num\">Met</th><th class=\"num\">Breached</th><th class=\"num\">Compliance</th></tr>\n"
        for (name, c) in [("Reaction", r.reaction), ("Resolution", r.resolution)] {
            html +=
                "<tr><td>\(name)</td><td class=\"num\">\(c.met)</td><td class=\"num\">\(c.breached)</td><td class=\"num\">\(escape(c.percent ?? "n/a"))</td></tr>\n"
        }
        html += "</table>\n"
        html +=
            "<p>Handoffs: \(r.handoffs.total) (\(escape(r.handoffs.perIncident)) per incident); \(r.handoffs.bounced) incidents bounced more than twice.</p>\n"
        html += "<h2>Breaches</h2>\n"
        if r.breaches.isEmpty {
            html += "<p>No breaches.</p>\n"
        } else {
            html +=
                "<table>\n<tr><th>Incident</th><th>Metric</th><th>Prio</th><th>Breached at</th><th class=\"num\">Target</th><th class=\"num\">Actual</th><th class=\"num\">Over by</th><th class=\"num\">Amount</th><th>Rule</th></tr>\n"
            for b in r.breaches {
                html +=
                    "<tr><td>\(escape(b.incident))</td><td>\(escape(b.metric))</td><td>\(escape(b.priority))</td><td>\(time(b.at))</td><td class=\"num\">\(formatSeconds(b.targetSeconds))</td><td class=\"num\">\(formatSeconds(b.actualSeconds))</td><td class=\"num\">\(formatSeconds(b.overBySeconds))</td><td class=\"num\">\(money(b.amount.amount))</td><td>\(escape(ReportRenderer.ruleText(r, b)))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<h2>Penalties (\(escape(r.currency)))</h2>\n" + breakdown(r)
        html += "<table>\n"
        html +=
            "<tr><td>Fee\(r.fee.validDays == r.fee.daysInMonth ? "" : " (prorated \(r.fee.validDays)/\(r.fee.daysInMonth) days of \(money(r.fee.monthly.amount)))")</td><td class=\"num\">\(money(r.fee.charged.amount))</td></tr>\n"
        if let a = r.availability {
            html += "<tr><td>Availability credit</td><td class=\"num\">\(money(a.credit.amount))</td></tr>\n"
        }
        html += "<tr><td>Breach penalties</td><td class=\"num\">\(money(ReportRenderer.penalties(r)))</td></tr>\n"
        html += "<tr><td>Subtotal</td><td class=\"num\">\(money(r.subtotal.amount))</td></tr>\n"
        if let cap = r.cap {
            html +=
                "<tr><td>Cap\(r.capApplied ? " (applied)" : " (not reached)")</td><td class=\"num\">\(money(cap.amount))</td></tr>\n"
        }
        for adj in r.adjustments {
            html +=
                "<tr><td>Adjustment for sealed \(escape(adj.sealedMonth)): recomputed \(money(adj.recomputedTotal.amount)), sealed \(money(adj.sealedTotal.amount))</td><td class=\"num\">\(money(adj.amount.amount))</td></tr>\n"
        }
        html +=
            "<tr class=\"total\"><td>Total</td><td class=\"num\">\(money(r.total.amount)) \(escape(r.currency))</td></tr>\n"
        html += "</table>\n<p class=\"muted\">Rounding: \(escape(r.rounding)).</p>\n</section>\n"
        return html
    }

    /// The month as a bar: downtime red, excluded maintenance grey, a tick per day.
    static func timeline(_ r: MonthlyReport, _ a: MonthlyReport.Availability) -> String {
        let width = 1000.0
        let total = Double(max(1, periodLength(r)))
        func x(_ second: Int64) -> String { format(Double(second) / total * width) }
        var svg =
            "<svg viewBox=\"0 0 \(Int(width)) 60\" width=\"\(Int(width))\" height=\"60\" role=\"img\" aria-label=\"availability timeline\">\n"
        svg += "<rect x=\"0\" y=\"10\" width=\"\(Int(width))\" height=\"24\" fill=\"#2da44e\"/>\n"
        for m in a.maintenance {
            svg +=
                "<rect x=\"\(x(m.fromSecond))\" y=\"10\" width=\"\(x(m.toSecond - m.fromSecond))\" height=\"24\" fill=\"#8c959f\"><title>maintenance \(time(m.start)) – \(time(m.end))</title></rect>\n"
        }
        for d in a.downtime {
            svg +=
                "<rect x=\"\(x(d.fromSecond))\" y=\"10\" width=\"\(format(max(1, Double(d.toSecond - d.fromSecond) / total * width)))\" height=\"24\" fill=\"#cf222e\"><title>down \(time(d.start)) – \(time(d.end))</title></rect>\n"
        }
        var day: Int64 = 0
        while day * 86_400 <= Int64(total) {
            let px = x(day * 86_400)
            svg += "<line x1=\"\(px)\" y1=\"34\" x2=\"\(px)\" y2=\"40\" stroke=\"#57606a\"/>\n"
            if day % 5 == 0 {
                svg += "<text x=\"\(px)\" y=\"52\" font-size=\"10\" fill=\"#57606a\">\(day + 1)</text>\n"
            }
            day += 1
        }
        svg += "</svg>\n"
        svg +=
            "<p class=\"muted\">Green: up; red: downtime counted; grey: maintenance excluded. Day numbers of the month below the bar.</p>\n"
        return svg
    }

    /// Seconds from the period start to its end, from the report's own instants.
    static func periodLength(_ r: MonthlyReport) -> Int64 {
        guard let s = ISO8601.parse(r.periodStart), let e = ISO8601.parse(r.periodEnd) else { return 1 }
        return e.instant(in: .utc).seconds - s.instant(in: .utc).seconds
    }

    /// Penalty components as one stacked bar, with the cap as a line.
    static func breakdown(_ r: MonthlyReport) -> String {
        var parts: [(String, Int64, String)] = []
        if let a = r.availability, a.credit.minorUnits > 0 {
            parts.append(("availability credit", a.credit.minorUnits, "#8250df"))
        }
        var byMetric: [String: Int64] = [:]
        for b in r.breaches {
            byMetric[b.metric.hasPrefix("promise:") ? "promise" : b.metric, default: 0] += b.amount.minorUnits
        }
        let colours = ["reaction": "#bf8700", "resolution": "#cf222e", "promise": "#0969da"]
        for (metric, minor) in byMetric.sorted(by: { $0.key < $1.key }) where minor > 0 {
            parts.append(("\(metric) breaches", minor, colours[metric] ?? "#57606a"))
        }
        let scale = max(r.subtotal.minorUnits, r.cap?.minorUnits ?? 0, 1)
        let width = 1000.0
        var svg =
            "<svg viewBox=\"0 0 \(Int(width)) \(40 + 16 * parts.count)\" width=\"\(Int(width))\" height=\"\(40 + 16 * parts.count)\" role=\"img\" aria-label=\"penalty breakdown\">\n"
        var left = 0.0
        for (i, p) in parts.enumerated() {
            let w = Double(p.1) / Double(scale) * width
            svg += "<rect x=\"\(format(left))\" y=\"4\" width=\"\(format(w))\" height=\"20\" fill=\"\(p.2)\"/>\n"
            svg += "<rect x=\"0\" y=\"\(34 + 16 * i)\" width=\"10\" height=\"10\" fill=\"\(p.2)\"/>\n"
            svg += "<text x=\"16\" y=\"\(43 + 16 * i)\" font-size=\"11\">\(escape(p.0))</text>\n"
            left += w
        }
        if let cap = r.cap {
            let cx = format(Double(cap.minorUnits) / Double(scale) * width - 1)
            svg +=
                "<line x1=\"\(cx)\" y1=\"0\" x2=\"\(cx)\" y2=\"28\" stroke=\"#1b1f24\" stroke-width=\"2\" stroke-dasharray=\"4 2\"><title>cap \(money(cap.amount))</title></line>\n"
        }
        svg += "</svg>\n"
        return parts.isEmpty ? "<p>Nothing owed for availability or breaches.</p>\n" : svg
    }

    /// The page's first table when it holds several contracts: what each owes, where finance looks first.
    static func totals(_ reports: [MonthlyReport]) -> String {
        var html =
            "<h1>Totals</h1>\n<table>\n<tr><th>Contract</th><th>Customer</th><th>Month</th><th>State</th><th class=\"num\">Breaches</th><th class=\"num\">Total owed</th></tr>\n"
        for r in reports {
            html +=
                "<tr><td>\(escape(r.contract))</td><td>\(escape(r.customer))</td><td>\(escape(r.month))</td><td><span class=\"state \(r.state.rawValue)\">\(r.state.rawValue)</span></td><td class=\"num\">\(r.breaches.count)</td><td class=\"num\">\(money(r.total.amount)) \(escape(r.currency))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// An amount with thousands separators: `1234567.89` → `1,234,567.89` (the page is English).
    static func money(_ amount: String) -> String {
        let negative = amount.hasPrefix("-")
        let digits = negative ? amount.dropFirst() : Substring(amount)
        let point = digits.firstIndex(of: ".") ?? digits.endIndex
        let whole = Array(digits[..<point])
        var grouped = ""
        for (k, c) in whole.enumerated() {
            if k > 0 && (whole.count - k) % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        return escape((negative ? "-" : "") + grouped + digits[point...])
    }

    /// An ISO 8601 time of the report (already in the contract's zone, which the page names) as
    /// `2026-11-02 13:14:03`.
    static func time(_ iso: String) -> String {
        guard iso.count >= 19, iso.dropFirst(10).first == "T" else { return escape(iso) }
        return escape(iso.prefix(10) + " " + iso.dropFirst(11).prefix(8))
    }

    static func format(_ value: Double) -> String {
        // One decimal is plenty for a 1000-unit viewBox; integer arithmetic keeps output stable.
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
