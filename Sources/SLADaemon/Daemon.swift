import Foundation
import Logging
import SLAConfig
import SLAControl
import SLACore
import SLAReport
import SLAStore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// How one daemon runs: where its state and control socket are, and the ingest settings.
public struct DaemonOptions: Sendable {
    /// The folder holding `slad.sqlite` (created when missing).
    public var stateDirectory: String
    /// Where the control socket is bound, unless systemd passed one.
    public var socketPath: String
    /// The listening control socket systemd passed (socket activation), if any.
    public var activatedSocket: Int32?
    /// Lines per batch (one transaction each).
    public var batchLines = 20_000
    /// The most incidents whose stored state one batch writes when state that waited for the
    /// end of a backlog is settled (the others go in batches of their own before it).
    public var stateSlice = DaemonOptions.defaultStateSlice
    /// The default of ``stateSlice``: 32,768 incidents.
    public static let defaultStateSlice = 32_768
    /// Lines longer than this many bytes are quarantined.
    public var maxLineBytes = 1 << 20
    /// Stop once every source has been read to its end (tests, benchmarks, one-off imports).
    public var exitWhenIdle = false
    /// Decode JSONL with Foundation's JSONDecoder (the benchmark baseline).
    public var referenceDecoder = false
    /// How often the WAL is copied into the database file.
    public var checkpointInterval: Duration = .seconds(1)

    /// Options with the defaults above.
    public init(stateDirectory: String, socketPath: String) {
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
    }
}

/// Why the daemon could not start or stopped in error: a constant message and its data.
public struct DaemonError: Error, CustomStringConvertible {
    /// What failed (`slad: cannot serve the control socket`).
    public var message: String
    /// Its data (`socket`, `error`).
    public var fields: [String: String]

    init(_ message: String, _ fields: [String: String] = [:]) {
        self.message = message
        self.fields = fields
    }

    /// The message and its fields, `key=value`, in key order.
    public var description: String {
        ([message] + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }
}

/// The daemon: opens the store, restores the engine, binds the control socket, then runs the
/// engine, the notifier, the control server, the checkpointer and the reload signal as one
/// `ServiceGroup` until SIGTERM or SIGINT (or, with `exitWhenIdle`, until the sources are read).
///
/// Start-up errors are thrown before systemd is told `READY=1`; the group shuts down in the
/// reverse order of the list below, so the engine finishes its batch first and the notifier,
/// which delivers what that batch decided, stops after it.
public enum Daemon {
    /// Runs the daemon on `config` until it is told to stop: on the SQLite file of the state
    /// folder, or, with `store:` set, on the PostgreSQL database it shares with other nodes.
    public static func run(config: SladConfiguration, options: DaemonOptions, logger: Logger) async throws {
        if let shared = config.store {
            try await SharedStoreNode.run(config: config, shared: shared, options: options, logger: logger)
            return
        }
        let lock = try lockState(options)
        defer { withExtendedLifetime(lock) {} }
        let store = try openStore(options)
        let storePath = (options.stateDirectory as NSString).appendingPathComponent("slad.sqlite")
        try await serve(
            config: config, store: store, storeName: storePath,
            reader: { try SLAStore(path: storePath, readOnly: true) },
            options: options, logger: logger, startedFields: ["state": options.stateDirectory],
            before: [.init(service: CheckpointService(store: store, interval: options.checkpointInterval))])
    }

    /// Restores the engine on `store` (from `warm` on, when given), binds the control socket,
    /// then runs the group until it is told to stop (by SIGTERM or SIGINT, or through
    /// `stopSwitch` when given).
    ///
    /// `storeName` says which store errors are about; `reader` gives the stores that reports
    /// and queries read from (never the writer's connection); `before` are services started
    /// before the others and stopped after them.
    static func serve(
        config: SladConfiguration, store: any DaemonStore, storeName: String, reader: () throws -> any DaemonStore,
        warm: FollowedLedger? = nil, role: NodeRole = .single, options: DaemonOptions, logger: Logger,
        startedFields: [String: String], before: [ServiceGroupConfiguration.ServiceConfiguration],
        stopSwitch: StopSwitch? = nil
    ) async throws {
        let clock = ContinuousClock()
        let entered = clock.now
        try checkSealedTerms(config, store: store)
        let notifier: Notifier
        do {
            notifier = try Notifier(config: config, store: store, logger: logger)
        } catch {
            throw DaemonError("slad: cannot start notifications", ["error": "\(error)"])
        }
        raiseDescriptorLimit()
        let parts: (loop: EngineLoop, caughtUp: [SLANotification], servers: [ControlServer])
        do {
            parts = try await start(
                config: config, store: store, storeName: storeName, reader: reader, warm: warm, role: role,
                notifier: notifier, options: options, logger: logger)
        } catch {
            await notifier.stop()
            throw error
        }
        let (loop, caughtUp, servers) = parts
        logger.note(
            "slad: started",
            startedFields.merging(
                [
                    "events": String(loop.ingest.live.engine.eventCount),
                    "sources": String(config.sources.count),
                    "socket": options.activatedSocket.map { "fd \($0) from systemd" } ?? options.socketPath,
                    "metrics": config.metricsListen.map { "\($0.host):\($0.port)" } ?? "control socket only",
                    "late_notifications": String(caughtUp.count),
                    // Whether the catch-up resumed from the state stored at the last stop.
                    "resumed": loop.ingest.resumed ? "snapshot" : "catch-up",
                    // From the store opened to ready: what a takeover adds to the lease's wait.
                    "start_ms": String(Int64((clock.now - entered) / .milliseconds(1))),
                ], uniquingKeysWith: { a, _ in a }))
        for w in config.warnings {
            logger.note("slad: configuration warning", ["warning": w.description], level: .warning)
        }
        if config.contracts.isEmpty {
            logger.note(
                "slad: no contracts: nothing is watched or priced until contracts.d holds one (examples: /usr/share/doc/slad/examples); systemctl reload slad after adding",
                ["contracts_d": (config.directory as NSString).appendingPathComponent("contracts.d")], level: .warning)
        }
        unblockStopAndReloadSignals()
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: before + [
                    .init(service: NotifierService(notifier: notifier)),
                    .init(service: ControlService(servers: servers)),
                    .init(service: HangupService(mailbox: loop.mailbox)),
                    .init(
                        service: EngineService(loop: loop, caughtUp: caughtUp),
                        successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup),
                ],
                // With a stop switch, SIGTERM and SIGINT reach the group through it: it listens
                // for the node's whole life, standing by included.
                gracefulShutdownSignals: stopSwitch == nil ? [.sigterm, .sigint] : [],
                logger: logger))
        await stopSwitch?.attach(group)
        try await group.run()
        loop.leaveEngineStateToExit()
    }

    /// Refuses contracts that would judge sealed months again, as a reload does.
    static func checkSealedTerms(_ config: SladConfiguration, store: any DaemonStore) throws {
        let conflicts: [SealedTermsConflict]
        do {
            conflicts = try ReportBook(store: store, contracts: config.contracts, sealAfter: config.sealAfter)
                .sealedTermsConflicts()
        } catch {
            throw DaemonError("slad: cannot read the sealed reports", ["error": "\(error)"])
        }
        guard let first = conflicts.first else { return }
        throw DaemonError(
            "slad: the contracts would judge sealed months again",
            [
                "file": Set(conflicts.map { config.contractFiles[$0.contract] ?? config.directory }).sorted()
                    .joined(separator: ","),
                "error": conflicts.map(\.description).joined(separator: "; "), "hint": first.hint,
            ])
    }

    /// The state folder, created when missing, locked for this process.
    static func lockState(_ options: DaemonOptions) throws -> StateLock {
        do {
            try FileManager.default.createDirectory(atPath: options.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw DaemonError(
                "slad: cannot create the state folder", ["state": options.stateDirectory, "error": "\(error)"])
        }
        return try StateLock(folder: options.stateDirectory)
    }

    /// The store in the state folder, created when missing.
    static func openStore(_ options: DaemonOptions) throws -> SLAStore {
        let path = (options.stateDirectory as NSString).appendingPathComponent("slad.sqlite")
        do {
            try FileManager.default.createDirectory(atPath: options.stateDirectory, withIntermediateDirectories: true)
            return try SLAStore(path: path)
        } catch {
            throw DaemonError("slad: cannot open the store", ["store": path, "error": "\(error)"])
        }
    }

    /// The engine loop with the ledger loaded and the control socket bound: everything that
    /// must work before slad says it is ready.
    static func start(
        config: SladConfiguration, store: any DaemonStore, storeName: String, reader: () throws -> any DaemonStore,
        warm: FollowedLedger? = nil, role: NodeRole = .single, notifier: Notifier, options: DaemonOptions,
        logger: Logger
    ) async throws -> (EngineLoop, [SLANotification], [ControlServer]) {
        let loop: EngineLoop
        let caughtUp: [SLANotification]
        do {
            let ingest = Ingest(
                config: config, store: store, maxLineBytes: options.maxLineBytes, reference: options.referenceDecoder,
                logger: logger)
            let board = StatusBoard(startedMilliseconds: wallMilliseconds())
            board.publish { $0.role = role }
            let mailbox = LoopMailbox<EngineLoop>()
            loop = try EngineLoop(
                config: config, store: store, reader: reader(), ingest: ingest,
                notifier: notifier, mailbox: mailbox, board: board,
                metrics: SladMetrics(board: board),
                monthWatch: MonthWatch(
                    reader: reader(), board: board, mailbox: mailbox, logger: logger),
                batchLines: options.batchLines, stateSlice: options.stateSlice, exitWhenIdle: options.exitWhenIdle,
                logger: logger)
            caughtUp = try loop.restore(warm: warm)
        } catch {
            throw DaemonError("slad: cannot start the engine", ["store": storeName, "error": "\(error)"])
        }
        let server: ControlServer
        do {
            server = try await ControlEndpoint.serve(
                loop: loop, reader: reader(), path: options.socketPath,
                activated: options.activatedSocket)
        } catch {
            throw DaemonError(
                "slad: cannot serve the control socket", ["socket": options.socketPath, "error": "\(error)"])
        }
        var servers = [server]
        // The TCP listeners: what each serves, its setting, address, route, largest body and token.
        typealias Listener = (
            what: String, setting: String, listen: (host: String, port: Int), route: String, body: Int, token: String?
        )
        var listeners: [Listener] = []
        if let listen = config.metricsListen {
            listeners.append(("metrics", "metrics.listen", listen, "metrics", 0, nil))
        }
        if let a = config.alertmanager, let listen = a.listen {
            listeners.append(
                ("Alertmanager's webhook", "alertmanager.listen", listen, "alertmanager", 4 << 20, a.token))
        }
        for l in listeners {
            do {
                servers.append(
                    try await ControlEndpoint.serveTCP(
                        loop: loop, reader: reader(), host: l.listen.host,
                        port: l.listen.port, route: l.route, maxBodyBytes: l.body, token: l.token))
            } catch {
                for s in servers { await s.stop() }
                throw DaemonError(
                    "slad: cannot serve \(l.what) (\(l.setting))",
                    ["listen": "\(l.listen.host):\(l.listen.port)", "error": "\(error)"])
            }
        }
        return (loop, caughtUp, servers)
    }

    /// Thousands of control connections need thousands of descriptors: the soft limit goes up
    /// to the hard one.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }

    /// A launcher may hand slad a blocked signal mask (systemd-socket-activate, test runners);
    /// the stop and reload signals must reach the service group.
    static func unblockStopAndReloadSignals() {
        var wanted = sigset_t()
        sigemptyset(&wanted)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&wanted, s) }
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
    }
}
