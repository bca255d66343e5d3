import AsyncHTTPClient
import Foundation
import Logging
import SLAConfig
import SLACore
import SLANotify
import SLAStore
import Synchronization

/// Wires the outbox to the sinks: the journal first-hand when a notification is
/// decided, and a worker per sink (journal retries, each webhook endpoint)
/// draining the store's deliveries.
final class Notifier: Sendable {
    private let journal = JournalSink()
    private let client: HTTPClient
    let workers: [SinkWorker]
    private let logger: Logger
    /// Journal entries written first-hand (not through the journal worker).
    private let journaledInline = Mutex(0)

    /// Reads the webhook secrets and prepares a worker per sink; fails with a
    /// message naming the endpoint and the file (never the secret) when a secret cannot be read.
    init(config: SladConfiguration, store: any DaemonStore, logger: Logger) throws {
        self.logger = logger
        // The secrets are read before the HTTP client exists, and a later failure shuts it
        // down: a client released without shutdown() is a fatal error in AsyncHTTPClient,
        // and would hide the reason.
        var endpoints: [WebhookEndpoint] = []
        for hook in config.webhooks {
            var endpoint = WebhookEndpoint(name: hook.name, url: hook.url, secret: try Self.secret(hook))
            endpoint.timeoutMilliseconds = hook.timeoutMilliseconds
            endpoint.kinds = hook.kinds
            endpoint.contracts = hook.contracts
            endpoint.format = WebhookEndpoint.Format(rawValue: hook.format) ?? .standard
            endpoint.maxConcurrency = hook.maxConcurrency
            endpoint.maxAgeMilliseconds = hook.maxAgeMilliseconds
            endpoints.append(endpoint)
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        self.client = client
        let queue = StoreDeliveryQueue(store: store)
        workers =
            [SinkWorker(deliverer: JournalDeliverer(), queue: queue, logger: logger, now: wallMilliseconds)]
            + endpoints.map {
                SinkWorker(
                    deliverer: WebhookDeliverer(endpoint: $0, client: client, now: wallMilliseconds),
                    queue: queue, logger: logger, now: wallMilliseconds)
            }
        let orphans: [String: Int]
        do {
            orphans = try store.failOrphanDeliveries(
                knownSinks: Set(workers.map(\.sink)), nowMilliseconds: wallMilliseconds())
        } catch {
            try? client.syncShutdown()
            throw error
        }
        for (sink, count) in orphans.sorted(by: { $0.key < $1.key }) {
            logger.error(
                "slad: pending notifications for a webhook no longer configured marked failed",
                metadata: ["sink": "\(sink)", "count": "\(count)"])
        }
    }

    static func secret(_ hook: WebhookConfig) throws -> WebhookSecret? {
        let path: String
        if let credential = hook.secretCredential {
            guard let dir = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"] else {
                throw NotifierError(
                    "webhooks.\(hook.name).secret_credential: $CREDENTIALS_DIRECTORY is not set (LoadCredential=\(credential):… in the unit?)"
                )
            }
            path = (dir as NSString).appendingPathComponent(credential)
        } else if let file = hook.secretFile {
            path = file
        } else {
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NotifierError("webhooks.\(hook.name): cannot read the secret file \(path)")
        }
        guard let secret = WebhookSecret(fileText: String(decoding: data, as: UTF8.self)) else {
            throw NotifierError(
                "webhooks.\(hook.name): \(path) holds no usable secret (empty, or whsec_ with bad base64)")
        }
        return secret
    }

    func start() { for w in workers { w.start() } }

    /// Writes each notification to the journal now; returns the ids the journal took
    /// (their journal delivery commits as done), the rest are retried by the journal worker.
    func journalNow(_ notifications: [SLANotification]) -> [String: Int64] {
        var taken: [String: Int64] = [:]
        for n in notifications {
            do throws(JournalError) {
                try journal.send(n)
                taken[n.id] = wallMilliseconds()
                journaledInline.withLock { $0 += 1 }
            } catch {
                logger.warning(
                    "slad: journal refused a notification; will retry",
                    metadata: ["notification": "\(n.id)", "error": "\(error)"])
            }
        }
        return taken
    }

    /// After a restart: one journal entry saying how many thresholds came due while slad was down
    /// (each is also notified on its own, marked late).
    func catchUpSummary(_ notifications: [SLANotification]) {
        let late = notifications.filter(\.late)
        guard !late.isEmpty else { return }
        let earliest = late.map(\.due).min() ?? Instant(0)
        let message =
            "slad caught up on \(late.count) SLA threshold\(late.count == 1 ? "" : "s") that came due while it was not running (earliest due \(NotificationText.utc(earliest)))"
        try? journal.send([
            ("MESSAGE", message), ("PRIORITY", "4"), ("MESSAGE_ID", NotificationText.catchUpMessageID),
            ("SYSLOG_IDENTIFIER", "slad"), ("SLA_LATE_COUNT", String(late.count)),
            ("SLA_EARLIEST_DUE", NotificationText.utc(earliest)),
        ])
        logger.warning("slad: caught up after a restart", metadata: ["late": "\(late.count)"])
    }

    /// New deliveries are in the store.
    func wake() { for w in workers { w.wake() } }

    /// Delivered / retried / failed / skipped counts per sink, for the status line.
    /// A sink's counts since start; the journal's include the entries written inline by the engine loop.
    func sinkStats(_ worker: SinkWorker) -> SinkStats {
        var s = worker.stats
        if worker.sink == "journal" { s.delivered += journaledInline.withLock { $0 } }
        return s
    }

    func stats() -> [String: String] {
        var out: [String: String] = [:]
        for w in workers {
            let s = sinkStats(w)
            out["delivered.\(w.sink)"] = String(s.delivered)
            if s.failed > 0 { out["failed.\(w.sink)"] = String(s.failed) }
            if s.retries > 0 { out["retries.\(w.sink)"] = String(s.retries) }
        }
        return out
    }

    /// Lets attempts in flight finish (bounded by their timeouts), then closes the HTTP client.
    func stop() async {
        let workers = workers
        let logger = logger
        await onThread(named: "slad.notify.stop") {
            for w in workers { w.requestStop() }
            for w in workers where !w.stop(timeoutMilliseconds: 10_000) {
                logger.warning("slad: delivery worker did not stop in time", metadata: ["sink": "\(w.sink)"])
            }
        }
        try? await client.shutdown()
    }
}

struct NotifierError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The store's deliveries table as the workers' queue.
struct StoreDeliveryQueue: DeliveryQueue {
    let store: any DaemonStore

    func pending(sink: String, limit: Int) throws -> [PendingDelivery] {
        try store.pendingDeliveries(sink: sink, limit: limit)
    }

    func record(seq: Int64, attempts: Int, outcome: DeliveryOutcome) throws {
        try store.recordDelivery(seq: seq, attempts: attempts, outcome: outcome)
    }
}
