import ArgumentParser
import Foundation
import Logging
import SLAConfig
import SLADaemon
import SLANotify
import SLAStore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Tail the configured sources, apply events to the engine, persist every batch.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "State folder (default: $STATE_DIRECTORY, else state_dir of slad.yaml, else ./state).")
    var state: String?

    @Option(help: "Lines per batch (one transaction each).")
    var batchLines: Int = 20_000

    // For tests: settled state written in many batches, so that a kill lands between them.
    @Option(help: .hidden)
    var stateSlice: Int = DaemonOptions.defaultStateSlice

    @Option(help: "Lines longer than this many bytes are quarantined.")
    var maxLineBytes: Int = 1 << 20

    @Flag(help: "Exit once every source has been read to its end (tests, benchmarks, one-off imports).")
    var exitWhenIdle = false

    @Option(
        help:
            "Control socket path (default: control.socket of slad.yaml, else $RUNTIME_DIRECTORY/slad.sock, else /run/slad/slad.sock)."
    )
    var socket: String?

    @Flag(help: "Decode JSONL with Foundation's JSONDecoder (the benchmark baseline) instead of the fast decoder.")
    var referenceDecoder = false

    func validate() throws {
        guard batchLines > 0 else { throw ValidationError("--batch-lines must be positive") }
        guard stateSlice > 0 else { throw ValidationError("--state-slice must be positive") }
        guard maxLineBytes >= 256 else { throw ValidationError("--max-line-bytes must be at least 256") }
    }

    func run() async throws {
        let config = try options.load()
        var daemon = DaemonOptions(
            stateDirectory: resolveStateDirectory(config), socketPath: resolveSocketPath(config))
        daemon.activatedSocket = ServiceManager.activatedSocket()
        daemon.batchLines = batchLines
        daemon.stateSlice = stateSlice
        daemon.maxLineBytes = maxLineBytes
        daemon.exitWhenIdle = exitWhenIdle
        daemon.referenceDecoder = referenceDecoder
        let logger = Self.bootstrapLogging()
        do {
            try await Daemon.run(config: config, options: daemon, logger: logger)
        } catch let error as DaemonError {
            logger.error("\(error.message)", metadata: error.fields.mapValues { .string($0) })
            throw ExitCode(1)
        }
    }

    /// slad's logger: native journal entries when stderr is the journal (under systemd),
    /// else one `message key=value …` line per record on stderr.
    static func bootstrapLogging() -> Logger {
        let journal = JournalLogHandler.stderrIsJournal(environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in
            journal ? JournalLogHandler(label: label) as any LogHandler : LineLogHandler()
        }
        return Logger(label: "slad")
    }

    /// The first folder of a `$…_DIRECTORY` variable systemd sets (colon-separated), nil when unset.
    func systemdDirectory(_ variable: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return nil }
        return value.split(separator: ":").first.map(String.init) ?? value
    }

    /// `--socket`, else `control.socket`, else `$RUNTIME_DIRECTORY/slad.sock`, else /run/slad/slad.sock.
    func resolveSocketPath(_ config: SladConfiguration) -> String {
        if let socket { return socket }
        if let path = config.control.socket { return path }
        if let dir = systemdDirectory("RUNTIME_DIRECTORY") {
            return (dir as NSString).appendingPathComponent("slad.sock")
        }
        return "/run/slad/slad.sock"
    }

    func resolveStateDirectory(_ config: SladConfiguration) -> String {
        if let state { return state }
        if let dir = systemdDirectory("STATE_DIRECTORY") { return dir }
        if let dir = config.stateDirectory {
            return dir.hasPrefix("/") ? dir : (config.directory as NSString).appendingPathComponent(dir)
        }
        return "state"
    }
}

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the store's durable state canonically (ledger, incidents, verdicts, quarantine, offsets).")

    @Option(help: "State folder holding slad.sqlite.")
    var state: String = "state"

    func run() throws {
        let path = (state as NSString).appendingPathComponent("slad.sqlite")
        guard FileManager.default.fileExists(atPath: path) else {
            printError("\(path): no store here")
            throw ExitCode(1)
        }
        print(try SLAStore(path: path, readOnly: true).canonicalDump(), terminator: "")
    }
}
