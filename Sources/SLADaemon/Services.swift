import Foundation
import Logging
import SLAControl
import SLACore
import SLAStore
import ServiceLifecycle
import UnixSignals

/// The engine loop as a service. The loop keeps a thread of its own (it blocks in `poll`, in
/// SQLite and on its committer), started by `run()`; graceful shutdown or cancellation asks it
/// to finish its batch and stop.
struct EngineService: Service {
    let loop: EngineLoop
    let caughtUp: [SLANotification]

    func run() async throws {
        let loop = loop
        let caughtUp = caughtUp
        await withTaskCancellationOrGracefulShutdownHandler {
            await onThread(named: "slad.engine") { loop.run(caughtUp: caughtUp) }
        } onCancelOrGracefulShutdown: {
            loop.mailbox.requestStop()
        }
        if loop.committer.failed { throw DaemonError("slad: the store does not take writes; stopped") }
    }
}

/// The notification workers (the journal's retries and one per webhook endpoint) as a
/// service: started with the group, stopped after the engine, so that what the engine's last
/// batch decided is still picked up.
struct NotifierService: Service {
    let notifier: Notifier

    func run() async throws {
        notifier.start()
        try? await gracefulShutdown()
        await notifier.stop()
    }
}

/// The control socket, bound before the group starts (so that a bind error stops slad before
/// it says it is ready); closed when the group shuts down.
struct ControlService: Service {
    /// The control socket, and the Prometheus listener when configured.
    let servers: [ControlServer]

    func run() async throws {
        try? await gracefulShutdown()
        for server in servers { await server.stop() }
    }
}

/// Copies the WAL into the database file every `interval` (``SLAStore/checkpoint()``), on a
/// queue of its own: a checkpoint may wait for the writer.
struct CheckpointService: Service {
    let store: any DaemonStore
    let interval: Duration
    private let queue = DispatchQueue(label: "slad.store.checkpoint")

    init(store: any DaemonStore, interval: Duration) {
        self.store = store
        self.interval = interval
    }

    func run() async throws {
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            let store = store
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                queue.async {
                    store.checkpoint()
                    done.resume()
                }
            }
        }
    }
}

/// SIGHUP (`systemctl reload slad`) reloads the configuration on the engine's thread.
struct HangupService: Service {
    let mailbox: LoopMailbox<EngineLoop>

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            mailbox.post { loop in _ = loop.reload() }
        }
    }
}

/// Runs `body` on a new thread (not the cooperative pool, which it would block) and returns
/// once it has.
func onThread(named name: String, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        let thread = Thread {
            body()
            done.resume()
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}
