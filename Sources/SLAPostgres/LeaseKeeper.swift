import Logging
import PostgresNIO
import SLAConfig
import Synchronization

/// Keeps this node's part in the leader lease: takes it when it is free, renews it while held,
/// and says at every moment whether this node is the leader, under which fencing token.
///
/// The keeper has a connection of its own, so that a long write of the leader never delays a
/// renewal. It believes itself leader only until `ttl` after it sent its last successful
/// renewal (its own monotonic clock; the server's expiry is later than that), so when the
/// database is out of reach it steps down by itself before another node can take over. A
/// connection cut (`pg_terminate_backend`, a restart of the server) is not a step-down: the
/// keeper connects again and renews under the same token while the tenure lasts.
public final class LeaseKeeper: Sendable {
    /// This node's part.
    public enum Role: Sendable, Equatable, CustomStringConvertible {
        /// It holds the lease: its writes carry `token`.
        case leader(token: Int64)
        /// Another node holds it (or no one, or the database is out of reach): `holder` and
        /// `token` are the lease's as last read, nil when unknown.
        case standby(holder: String?, token: Int64?)

        /// `leader (token 3)`, `standby (leader b, token 3)`.
        public var description: String {
            switch self {
            case .leader(let token): "leader (token \(token))"
            case .standby(let holder?, let token?): "standby (leader \(holder), token \(token))"
            case .standby: "standby (no leader known)"
            }
        }
    }

    /// How long a tenure lasts unrenewed, and how often the keeper acts.
    public struct Terms: Sendable {
        /// The tenure a renewal grants; a standby takes over at most this long after a leader
        /// died, plus one ``retryEvery``.
        public var ttl: Duration
        /// How often the leader renews (a third of the tenure by default: two renewals may fail).
        public var renewEvery: Duration
        /// How often a standby tries to take the lease, and how soon a keeper connects again.
        public var retryEvery: Duration

        /// Terms with a tenure of `ttl`, renewed every third of it, retried every `retryEvery`.
        public init(ttl: Duration = .seconds(3), retryEvery: Duration = .milliseconds(250)) {
            self.ttl = ttl
            renewEvery = ttl / 3
            self.retryEvery = retryEvery
        }
    }

    /// This node's name in the lease for this run: unique per process, so that a restarted node
    /// never continues the tenure (and token) of its previous run.
    public let holder: String
    private let location: PostgresLocation
    private let terms: Terms
    private let logger: Logger
    private let onChange: @Sendable (Role) -> Void
    /// The role, and for a leader the instant (this process's clock) its tenure surely lasts to.
    private let state = Mutex<(role: Role, until: ContinuousClock.Instant)>(
        (.standby(holder: nil, token: nil), ContinuousClock.now))

    /// A keeper for the node named `holder`; `onChange` hears every change of role, in order,
    /// from the keeper's task.
    public init(
        location: PostgresLocation, holder: String, terms: Terms = Terms(), logger: Logger,
        onChange: @escaping @Sendable (Role) -> Void = { _ in }
    ) {
        self.location = location
        self.holder = holder
        self.terms = terms
        self.logger = logger
        self.onChange = onChange
    }

    /// This node's part now.
    public var role: Role { state.withLock { $0.role } }

    /// The token to write under when this node leads and its tenure surely lasts, nil otherwise
    /// (also in the moment between the tenure's end and the keeper's noticing it).
    public var token: Int64? {
        state.withLock { s in
            guard case .leader(let token) = s.role, ContinuousClock.now < s.until else { return nil }
            return token
        }
    }

    /// Steps down at once: a write was refused as stale, so another node leads.
    public func lost(_ stale: StaleFencingToken) {
        if role == .leader(token: stale.token) { set(.standby(holder: nil, token: nil)) }
    }

    private func set(_ role: Role, until: ContinuousClock.Instant? = nil) {
        let changed = state.withLock { s in
            defer { s = (role, until ?? s.until) }
            return s.role != role
        }
        if changed { onChange(role) }
    }

    private var until: ContinuousClock.Instant { state.withLock { $0.until } }

    /// Keeps the lease until the task is cancelled; then, when leading and `handOver`, ends the
    /// tenure at once so that a standby need not wait for it to expire. Without `handOver` the
    /// tenure is left to expire, as a crash leaves it (for takeover tests and benchmarks).
    public func run(handOver: Bool = true) async {
        let clock = ContinuousClock()
        var connection: PostgresConnection?
        while !Task.isCancelled {
            let sent = clock.now
            do {
                // A connection the server closed is replaced before use: postgres-nio would never
                // answer a query on it.
                if connection?.isClosed ?? true {
                    let fresh = try await location.connect(logger: logger)
                    connection = fresh
                    // A taking waits for the lease row's lock while a leader's write holds it; the
                    // server gives up the wait within the round, and the next round tries again on
                    // the same connection.
                    let wait = LeaderLease.milliseconds(terms.ttl) / 2
                    try await fresh.run(PostgresQuery(unsafeSQL: "SET lock_timeout = \(wait)"), logger: logger)
                }
                let c = connection!
                // A leader's round must end within its tenure; a query the network swallowed
                // would otherwise keep it believing it leads.
                let limit = if case .leader = role { min(terms.ttl, until - sent) } else { terms.ttl }
                try await Self.bounded(limit, c) { [self] in try await round(c, sent: sent) }
            } catch {
                if let c = connection { try? await c.close() }
                connection = nil
                logger.warning("leader lease: \(String(reflecting: error))")
            }
            // Out of reach for the whole tenure: the server may have let another node in.
            if case .leader = role, clock.now >= until { set(.standby(holder: nil, token: nil)) }
            let leading = if case .leader = role { true } else { false }
            try? await clock.sleep(until: sent + (leading && connection != nil ? terms.renewEvery : terms.retryEvery))
        }
        if handOver, case .leader(let token) = role, let c = connection {
            try? await LeaderLease.release(on: c, token: token, logger: logger)
            set(.standby(holder: nil, token: nil))
        }
        if let c = connection { try? await c.close() }
    }

    /// One renewal (leading) or one attempt to take the lease (standing by).
    private func round(_ c: PostgresConnection, sent: ContinuousClock.Instant) async throws {
        if case .leader(let token) = role {
            if try await LeaderLease.renew(on: c, token: token, ttl: terms.ttl, logger: logger) {
                set(.leader(token: token), until: sent + terms.ttl)
                return
            }
            logger.warning("lost the leader lease: token \(token) expired or was taken over")
            set(.standby(holder: nil, token: nil))
        }
        if let token = try await LeaderLease.acquire(on: c, holder: holder, ttl: terms.ttl, logger: logger) {
            set(.leader(token: token), until: sent + terms.ttl)
        } else {
            let now = try await LeaderLease.holder(on: c, logger: logger)
            set(.standby(holder: now?.holder, token: now?.token))
        }
    }

    struct TimedOut: Error, CustomStringConvertible {
        var description: String { "no answer from the database within the tenure; the connection is closed" }
    }

    /// Runs `body`; when it has not finished after `limit`, closes `connection` and throws,
    /// without waiting for `body`: postgres-nio 1.33.2 never answers a query sent on a
    /// connection the server has closed (`pg_terminate_backend`), so the body may never end.
    static func bounded(
        _ limit: Duration, _ connection: PostgresConnection, _ body: @escaping @Sendable () async throws -> Void
    ) async throws {
        let first = FirstOutcome()
        try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<Void, any Error>) in
            first.wait(waiting)
            let work = Task {
                do {
                    try await body()
                    first.resume(.success(()))
                } catch {
                    first.resume(.failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: max(limit, .zero))
                if first.resume(.failure(TimedOut())) {
                    work.cancel()
                    let _: EventLoopFuture<Void> = connection.close()
                }
            }
        }
    }
}

/// A continuation resumed by whichever outcome comes first.
private final class FirstOutcome: Sendable {
    private let waiting = Mutex<CheckedContinuation<Void, any Error>?>(nil)

    func wait(_ continuation: CheckedContinuation<Void, any Error>) { waiting.withLock { $0 = continuation } }

    /// Resumes with `result` unless another outcome came first; true when this one did.
    @discardableResult
    func resume(_ result: Result<Void, any Error>) -> Bool {
        guard
            let continuation = waiting.withLock({ w in
                defer { w = nil }; return w
            })
        else { return false }
        continuation.resume(with: result)
        return true
    }
}
