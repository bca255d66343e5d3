import ArgumentParser
import Foundation
import SLAAPI
import SLAConfig
import SLACore
import SLAIngest
import SLAReport

@main
struct Slad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slad",
        abstract: "SLA monitoring daemon: contracts, deadlines, breaches, penalties.",
        version: SladVersion.current,
        subcommands: [CheckConfig.self, ReplayCommand.self, RunCommand.self, ReportCommand.self, DumpCommand.self]
    )
}

/// Options shared by commands that read the configuration folder.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "Configuration folder (slad.yaml, contracts.d/, calendars/).")
    var directory: String = "/etc/slad"

    /// Loads the folder, or prints every error and exits 1.
    func load() throws -> SladConfiguration {
        do {
            return try ConfigLoader.load(directory: directory)
        } catch {
            for e in error.errors { printError(e.description) }
            throw ExitCode(1)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration folder; print every error with file, line and field.")

    @Argument(help: "Configuration folder (default /etc/slad).")
    var directory: String?

    @OptionGroup var options: ConfigOptions

    func run() throws {
        let dir = directory ?? options.directory
        do {
            let config = try ConfigLoader.load(directory: dir)
            for w in config.warnings { printError("warning: \(w.description)") }
            if config.contracts.isEmpty {
                printError(
                    "\(dir)/contracts.d: holds no contracts: nothing is watched or priced until it does (examples: /usr/share/doc/slad/examples)"
                )
            }
            print(
                "\(dir): ok: \(config.contracts.count) contracts (\(config.contracts.map(\.id).joined(separator: ", "))), \(config.calendars.count) calendars, \(config.sources.count) sources, \(config.mappings.count) source mappings"
            )
        } catch {
            for e in error.errors { printError(e.description) }
            printError("\(error.errors.count) error\(error.errors.count == 1 ? "" : "s") in \(dir)")
            throw ExitCode(1)
        }
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Evaluate an event file offline: verdict per incident and clock, penalties per contract and month.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json, lines, verdicts, statements, csv, html, report
        case reportJSON = "report-json"
        case chargesCSV = "charges-csv"
        case units
        case unitsCSV = "units-csv"
        case unitsJSON = "units-json"
        case unitsHTML = "units-html"

        /// A format of the monthly penalty report, which prints `--month` alone when given.
        var isReport: Bool { [.csv, .html, .report, .reportJSON, .chargesCSV].contains(self) }

        /// The OLA report's format, for the `units` formats.
        var unitFormat: ReportFormat? {
            switch self {
            case .units: .table
            case .unitsCSV: .csv
            case .unitsJSON: .json
            case .unitsHTML: .html
            default: nil
            }
        }
    }

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("events"), help: "JSON Lines event file ('-' for standard input).")
    var eventsPath: String

    @Option(
        help: """
            Output format: table, json, lines, verdicts (CSV, one row per clock), statements; \
            or the monthly penalty report as csv, html, report (terminal), report-json or charges-csv; \
            or the OLA report of the support lines and teams (with --month) as units (terminal), units-csv, \
            units-json or units-html.
            """)
    var format: Format = .table

    @Option(help: "Only this month (YYYY-MM) in report formats.")
    var month: String?

    @Option(
        name: .customLong("diff"),
        help: "A second configuration folder: print per contract and month the penalty difference between the two.")
    var diffDirectory: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    @Option(
        name: .customLong("source"),
        help: "Read the events file through this mapping of sources/ (status-snapshot logs); default: native JSONL.")
    var mapping: String?

    @Option(
        name: .customLong("as-of"),
        help: "Evaluate as of this time (ISO 8601); default: the last event's time.")
    var asOf: String?

    @Option(
        name: .customLong("explain"),
        help: """
            Explain this incident's verdict: every stretch of each clock and the event that began it, the             working time counted, each threshold's instant and the penalty's arithmetic (--format json: as JSON).
            """)
    var explain: String?

    func validate() throws {
        if let month, YearMonth(parsing: month) == nil {
            throw ValidationError("--month '\(month)' must be YYYY-MM, e.g. 2026-10")
        }
        if let asOf, ISO8601.parse(asOf)?.offset == nil {
            throw ValidationError(
                "--as-of '\(asOf)' must be an ISO 8601 time with an offset, e.g. 2026-11-30T00:00:00+03:00")
        }
    }

    func run() throws {
        let config = try options.load()
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let data: Data
        if eventsPath == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            // Mapped, not copied: the file is read once, by the decoder.
            guard let d = try? Data(contentsOf: URL(fileURLWithPath: eventsPath), options: .alwaysMapped) else {
                printError("\(eventsPath): cannot be read")
                throw ExitCode(1)
            }
            data = d
        }
        var events: [SLAEvent]
        var lineErrors: [LineError]
        var mappedSummary: String?
        if let mapping {
            guard let m = config.mappings[mapping] else {
                printError(
                    "no source mapping '\(mapping)' in \(options.directory)/sources; known: \(config.mappings.keys.sorted().joined(separator: ", "))"
                )
                throw ExitCode(1)
            }
            let mapped = SnapshotMapper.read(bytes: Array(data), mapping: m)
            events = mapped.events
            lineErrors = mapped.errors
            let skipped = mapped.skipped.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            mappedSummary =
                "\(mapped.rows) rows, \(events.count) events, \(mapped.skipped.values.reduce(0, +)) skipped"
                + (skipped.isEmpty ? "" : " (\(skipped.joined(separator: ", ")))") + ", \(lineErrors.count) quarantined"
        } else {
            (events, lineErrors) = data.withUnsafeBytes {
                JSONLEventDecoder(source: eventsPath, policies: config.policies).decodeAll(bytes: $0, parts: cores)
            }
        }
        for e in lineErrors { printError("quarantined: \(e)") }
        let instant = asOf.flatMap { ISO8601.parse($0)?.instant(in: .utc) }
        // Declared maintenance counts as the daemon counts it: the windows started by then.
        let cutoff = instant ?? Instant(Int64(Date().timeIntervalSince1970))
        events += config.maintenance.filter { $0.from <= cutoff }.flatMap(\.events)
        if let explain {
            try emit(try explanation(of: explain, events: events, contracts: config.contracts, asOf: instant))
            return
        }
        let selected = month.flatMap { YearMonth(parsing: $0) }
        // Report formats print one month when given one: the others' statements are not made.
        let only = format.isReport || diffDirectory != nil ? selected.map { Set([$0]) } : nil
        let result = Replay.run(contracts: config.contracts, events: events, asOf: instant, months: only, parts: cores)
        if let unitFormat = format.unitFormat {
            guard let selected else { throw ValidationError("--format \(format.rawValue) needs --month YYYY-MM") }
            var tally = UnitReport.Tally(olas: config.contracts.first?.olas ?? .none, month: selected)
            for v in result.incidents { tally.add(v) }
            try emit(String(decoding: tally.report(asOf: result.asOf).render(unitFormat), as: UTF8.self))
            return
        }
        if let diffDirectory {
            var otherOptions = options
            otherOptions.directory = diffDirectory
            let other = try otherOptions.load()
            let otherResult = Replay.run(
                contracts: other.contracts, events: events, asOf: instant, months: only, parts: cores)
            let diff = PenaltyDiff(base: result, proposed: otherResult, month: selected)
            try emit(format == .csv ? diff.csv() : diff.table(base: options.directory, proposed: diffDirectory))
            return
        }
        let reportFormat: ReportFormat? =
            switch format {
            case .csv: .csv
            case .html: .html
            case .report: .table
            case .reportJSON: .json
            case .chargesCSV: .chargesCSV
            default: nil
            }
        if let reportFormat {
            let document = ReportDocument(result, contracts: config.contracts, month: selected)
            try writeOutput(ReportRenderer.pieces(document, as: reportFormat), to: output)
            return
        }
        switch format {
        case .table:
            print(ReplayRenderer.table(result, contracts: config.contracts), terminator: "")
            if !lineErrors.isEmpty {
                let byField = Dictionary(grouping: lineErrors, by: { $0.field ?? "line" }).map {
                    ($0.key, $0.value.count)
                }
                .sorted { $0.0 < $1.0 }.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
                print("\(lineErrors.count) lines quarantined (by field: \(byField)); details on standard error")
            }
        case .json: print(try ReplayRenderer.json(result, contracts: config.contracts), terminator: "")
        case .lines: print(ReplayRenderer.lines(result, contracts: config.contracts), terminator: "")
        case .verdicts: print(ReplayRenderer.verdicts(result, contracts: config.contracts), terminator: "")
        case .statements:
            print(ReplayRenderer.statements(result, contracts: config.contracts), terminator: "")
            if let mappedSummary { print("source: \(mappedSummary)") }
        case .csv, .html, .report, .reportJSON, .chargesCSV, .units, .unitsCSV, .unitsJSON, .unitsHTML: break
        }
        if let mappedSummary, format == .table { print("source: \(mappedSummary)") }
    }

    /// The explanation of `incident` as text (or JSON with `--format json`), as of `asOf` or the
    /// file's last event, as replay evaluates it.
    func explanation(of incident: String, events: [SLAEvent], contracts: [Contract], asOf: Instant?) throws -> String {
        let own = events.filter { $0.incident == incident }
        guard let opened = own.filter({ $0.type == .opened }).min(by: SLAEvent.canonicalOrder) else {
            printError("\(eventsPath): no incident.opened for '\(incident)'")
            throw ExitCode(1)
        }
        guard let contract = contracts.first(where: { $0.id == opened.contract }) else {
            printError("\(incident): contract '\(opened.contract ?? "")' is not configured")
            throw ExitCode(1)
        }
        let end = asOf ?? events.lazy.map(\.time).max() ?? opened.time
        guard let e = IncidentEvaluator.explain(incident: incident, events: own, contract: contract, asOf: end) else {
            printError("\(incident): no verdict (an opening without a priority)")
            throw ExitCode(1)
        }
        let wire = IncidentExplanation(e)
        return format == .json ? String(decoding: APIJSON.encode(wire, pretty: true), as: UTF8.self) + "\n" : wire.text
    }

    /// Writes `text` to `--output`, or to standard output.
    func emit(_ text: String) throws { try writeOutput([Array(text.utf8)], to: output) }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
