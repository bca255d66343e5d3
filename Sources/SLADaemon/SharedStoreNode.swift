import Foundation
import Logging
import SLAConfig
import SLAControl
import SLAPostgres
import SLAStore
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// One of several nodes sharing a PostgreSQL store (`store:`, docs/ha.md).
///
/// The node takes part in the leader lease from its start. While another node leads, it
/// stands by: ready, with nothing to do. Once it leads, it runs as a single daemon does: it
/// reads the ledger, offsets and outbox from the store, tails the shared sources from the
/// stored offsets, decides and delivers, every write under its fencing token. When it loses
/// the lease (its tenure ran out unrenewed, or a write was refused as stale) it stops writing
/// at once and exits with status 1; its service manager starts it again, as a standby. A
/// clean stop hands the lease over at once.
enum SharedStoreNode {
    static func run(
        config: SladConfiguration, shared: StoreConfig, options: DaemonOptions, logger: Logger
    ) async throws {
        var location: PostgresLocation
        do {
            location = try shared.resolvedLocation(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw DaemonError("slad: cannot read the store's password", ["error": "\(error)"])
        }
        let node = shared.node ?? ProcessInfo.processInfo.hostName
        // Unique per process: a node started again never continues its previous run's tenure.
        let holder = "\(node)/\(getpid())"
        location.applicationName = location.applicationName ?? "slad \(holder)"
        let terms = LeaseKeeper.Terms()
        let writer: PostgresStore
        let readers: PostgresStore
        do {
            writer = try await PostgresStore.open(location, logger: logger, idleInTransaction: terms.ttl)
        } catch {
            throw DaemonError("slad: cannot open the PostgreSQL store", ["store": "\(location)", "error": "\(error)"])
        }
        let following: PostgresStore
        do {
            readers = try await PostgresStore.open(location, logger: logger, migrate: false)
        } catch {
            try? await writer.close()
            throw DaemonError("slad: cannot open the PostgreSQL store", ["store": "\(location)", "error": "\(error)"])
        }
        do {
            following = try await PostgresStore.open(location, logger: logger, migrate: false)
        } catch {
            try? await writer.close()
            try? await readers.close()
            throw DaemonError("slad: cannot open the PostgreSQL store", ["store": "\(location)", "error": "\(error)"])
        }
        let reader = WaitingPostgresStore(store: readers, token: { nil })
        // Standing by, the node reads the ledger as the leader commits it: a takeover then reads
        // only the rows since, not the whole ledger.
        let follower = LedgerFollower(
            store: WaitingPostgresStore(store: following, token: { nil }), contracts: config.contracts, logger: logger)
        follower.start()
        let keeper = LeaseKeeper(location: location, holder: holder, terms: terms, logger: logger) { role in
            logger.note("slad: role changed", ["role": role.description, "node": holder], level: .notice)
            ServiceManager.notify("STATUS=\(role)")
        }
        let keeping = Task { await keeper.run() }
        // One listener for SIGTERM and SIGINT for the node's whole life: a second signal source
        // for the same signal after a first was cancelled was seen to miss the signal.
        Daemon.unblockStopAndReloadSignals()
        let stopSwitch = StopSwitch()
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let listening = Task {
            for await _ in signals {
                await stopSwitch.stop()
            }
        }
        defer { listening.cancel() }
        let outcome: Result<Void, any Error>
        do {
            ServiceManager.notify("READY=1\nSTATUS=standby: waiting for the leader lease")
            logger.note("slad: standing by", ["store": "\(location)", "node": holder])
            // On a socket systemd passed, the standby serves a duplicate of it: closing that at the
            // takeover leaves systemd's socket open for the leader, and a client that connects
            // meanwhile waits in its queue.
            var activated: Int32?
            if let passed = options.activatedSocket {
                activated = fcntl(passed, F_DUPFD_CLOEXEC, 3)
                guard let a = activated, a >= 0 else {
                    throw DaemonError(
                        "slad: cannot serve the control socket",
                        ["socket": "fd \(passed) from systemd", "error": String(cString: strerror(errno))])
                }
            }
            let standbyServer: ControlServer
            do {
                standbyServer = try await ControlEndpoint.serve(
                    control: config.control,
                    responder: StandbyResponder(
                        keeper: keeper, follower: follower, reader: reader, config: config,
                        startedMilliseconds: wallMilliseconds()),
                    path: options.socketPath, activated: activated)
            } catch {
                if let activated { close(activated) }
                throw DaemonError(
                    "slad: cannot serve the control socket", ["socket": options.socketPath, "error": "\(error)"])
            }
            let leading: Bool
            do {
                leading = try await standBy(keeper, until: stopSwitch)
            } catch {
                await standbyServer.stop()
                throw error
            }
            await standbyServer.stop()
            let warm = await follower.finish()
            try? await following.close()
            if leading {
                let store = WaitingPostgresStore(
                    store: writer, token: { keeper.token }, lost: { keeper.lost($0) })
                try await Daemon.serve(
                    config: config, store: store, storeName: "\(location)", reader: { reader }, warm: warm,
                    role: NodeRole(name: "leader", holder: holder, token: keeper.token), options: options,
                    logger: logger,
                    startedFields: [
                        "store": "\(location)", "node": holder, "role": keeper.role.description,
                        "followed_through_row": String(warm.through),
                    ],
                    before: [
                        .init(
                            service: LeaseWatch(keeper: keeper),
                            failureTerminationBehavior: .gracefullyShutdownGroup)
                    ], stopSwitch: stopSwitch)
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // The lease is handed over only after the engine and the notifier stopped writing.
        keeping.cancel()
        await keeping.value
        follower.stop()
        try? await writer.close()
        try? await readers.close()
        if !following.isConnectionClosed { try? await following.close() }
        try outcome.get()
    }

    /// Waits until `keeper` leads (true) or the node is told to stop (false).
    static func standBy(_ keeper: LeaseKeeper, until stop: StopSwitch) async throws -> Bool {
        while !stop.stopped {
            if keeper.token != nil { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// How a node's SIGTERM reaches what runs at the moment: the standby's wait, then the leader's
/// service group (told to shut down gracefully, also when the signal came before it started).
final class StopSwitch: Sendable {
    private let state = Mutex<(stopped: Bool, group: ServiceGroup?)>((false, nil))

    /// Whether the node was told to stop.
    var stopped: Bool { state.withLock { $0.stopped } }

    /// Tells the node to stop.
    func stop() async {
        let group = state.withLock {
            $0.stopped = true
            return $0.group
        }
        await group?.triggerGracefulShutdown()
    }

    /// The group a stop goes to from now on; stopped at once when the node was told to stop.
    func attach(_ group: ServiceGroup) async {
        let stopped = state.withLock {
            $0.group = group
            return $0.stopped
        }
        if stopped { await group.triggerGracefulShutdown() }
    }
}

/// Stops the group, with an error, once this node no longer leads: another node may lead now,
/// and this one must not decide or deliver beside it.
struct LeaseWatch: Service {
    let keeper: LeaseKeeper

    func run() async throws {
        var held: Int64?
        while let token = keeper.token {
            held = token
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(50)) }
            } catch {
                return
            }
        }
        throw DaemonError(
            "slad: this node's tenure as leader ended; stopping",
            ["token": held.map(String.init) ?? "none", "lease": keeper.role.description])
    }
}
