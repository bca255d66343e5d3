import ArgumentParser
import Foundation
import Logging
import SLACore
import SLAPostgres
import SLAReport
import SLAStore

/// `slad report`: a month's penalty report from a store file, offline and read-only.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print a month's penalty report from a store file (read-only; run it on a copy if you like).",
        discussion: """
            Sealed months are printed as sealed; other months are computed from the stored verdicts \
            as of --as-of (default: now). Contracts come from --config. See docs/reports.md.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(
        help: ArgumentHelp(
            "The store: a slad.sqlite file, or the state folder holding it.",
            discussion: "Without it, the PostgreSQL store of slad.yaml's store: setting."))
    var state: String?

    @Option(help: "The month, YYYY-MM (in each contract's time zone).")
    var month: String

    @Option(help: "Only this contract.")
    var contract: String?

    @Option(help: "Output format: table, csv, json, html or charges-csv.")
    var format: ReportFormatArgument = .table

    @Flag(help: "The OLA report of the support lines and teams instead of the contracts' penalties.")
    var units = false

    @Flag(help: "Start a CSV with a UTF-8 byte order mark (for Excel).")
    var bom = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    @Option(name: .customLong("as-of"), help: "Evaluate unsealed months as of this time (ISO 8601 with offset).")
    var asOf: String?

    func validate() throws {
        if YearMonth(parsing: month) == nil {
            throw ValidationError("--month '\(month)' must be YYYY-MM, e.g. 2026-10")
        }
        if let asOf, ISO8601.parse(asOf)?.offset == nil {
            throw ValidationError("--as-of '\(asOf)' must be an ISO 8601 time with an offset")
        }
        if bom && format != .csv && format != .chargesCSV { throw ValidationError("--bom goes with a CSV format") }
    }

    func run() throws {
        let config = try options.load()
        let store: any ReportStore
        // What errors name: the file, or the database's URL without its password.
        let path: String
        if let state {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: state, isDirectory: &isFolder)
            path = isFolder.boolValue ? (state as NSString).appendingPathComponent("slad.sqlite") : state
            guard exists, FileManager.default.fileExists(atPath: path) else {
                printError("\(path): no store here (give the slad.sqlite file or its state folder)")
                throw ExitCode(1)
            }
            do {
                let file = try SLAStore(path: path, readOnly: true)
                try file.requireCurrentSchema()
                store = file
            } catch {
                printError("\(path): \(error)")
                throw ExitCode(1)
            }
        } else if let configured = config.store {
            path = "\(configured.location)"
            do {
                store = try WaitingPostgresStore.open(
                    configured.resolvedLocation(environment: ProcessInfo.processInfo.environment),
                    logger: Logger(label: "slad.report"), migrate: false)
            } catch {
                printError("\(path): \(error)")
                throw ExitCode(1)
            }
        } else {
            printError(
                "give --state (a slad.sqlite file or its state folder), or a store: in \(options.directory)/slad.yaml")
            throw ExitCode(1)
        }
        defer { try? (store as? WaitingPostgresStore)?.close() }
        let instant =
            asOf.flatMap { ISO8601.parse($0)?.instant(in: .utc) } ?? Instant(Int64(Date().timeIntervalSince1970))
        do {
            let book = ReportBook(store: store, contracts: config.contracts, sealAfter: config.sealAfter)
            if units {
                let report = try book.unitReport(month: YearMonth(parsing: month)!, asOf: instant)
                try writeOutput(
                    (bom ? [ReportRenderer.byteOrderMark] : []) + [report.render(format.format)], to: output)
                return
            }
            let document = try book.document(month: YearMonth(parsing: month)!, contract: contract, asOf: instant)
            try writeOutput(
                (bom ? [ReportRenderer.byteOrderMark] : []) + ReportRenderer.pieces(document, as: format.format),
                to: output)
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("\(path): \(error)")
            throw ExitCode(1)
        }
    }
}

/// `--format` of report commands.
enum ReportFormatArgument: String, ExpressibleByArgument, CaseIterable {
    case table, csv, json, html
    case chargesCSV = "charges-csv"

    var format: ReportFormat { ReportFormat(rawValue: rawValue)! }
}

/// Writes `pieces`, in order, to `path`, or to standard output.
func writeOutput(_ pieces: [[UInt8]], to path: String?) throws {
    // Written straight from the buffers: a month's CSV can be a hundred megabytes, and wrapping
    // it in `Data` or joining its pieces first copied all of it.
    let fd = path.map { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) } ?? STDOUT_FILENO
    guard fd >= 0 else {
        printError("\(path ?? "-"): cannot be written: \(String(cString: strerror(errno)))")
        throw ExitCode(1)
    }
    defer { if path != nil { close(fd) } }
    var failure: Int32?
    for piece in pieces where failure == nil {
        failure = piece.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
    }
    if let failure {
        printError("\(path ?? "standard output"): cannot be written: \(String(cString: strerror(failure)))")
        throw ExitCode(1)
    }
}
