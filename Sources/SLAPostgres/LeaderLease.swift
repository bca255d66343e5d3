import Logging
import PostgresNIO

/// The leader lease of a PostgreSQL store: one row, `slad_lease`, that says which node may
/// write, until when, and under which fencing token.
///
/// - A node takes the lease only when no one holds it or it has expired, and each taking adds
///   one to the token, so a token names one tenure and no two tenures share one.
/// - The holder renews it before it expires; a renewal that finds it expired fails, and the
///   node must take it again (with a new token) or stand by.
/// - Every write of the leader runs through ``fenced(on:token:logger:_:)``, which refuses a
///   token that is not the lease's current, unexpired one. The check takes a share lock on the
///   lease row, so a takeover waits for a write that passed it to commit, and no write passes it
///   after a takeover: a paused or cut-off leader cannot write once another took over.
/// - Expiry is read on the server's clock only, so the nodes' clocks do not matter.
public enum LeaderLease {
    /// The holder of the lease as the server sees it now.
    public struct Holder: Sendable, Equatable {
        /// The node's name for this run (``LeaseKeeper`` makes one per process).
        public var holder: String
        /// The fencing token of its tenure.
        public var token: Int64
        /// Milliseconds until it expires, on the server's clock (negative: expired).
        public var expiresInMilliseconds: Int64
        /// The server process of the connection that last took or renewed it.
        public var backendPID: Int32
    }

    /// Takes the lease for `holder` when it is free or expired; returns the new fencing token,
    /// or nil when another node holds it.
    public static func acquire(
        on connection: PostgresConnection, holder: String, ttl: Duration, logger: Logger
    ) async throws -> Int64? {
        let ms = milliseconds(ttl)
        let rows = try await connection.query(
            """
            INSERT INTO slad_lease AS l (name, holder, token, acquired_at, expires_at, backend_pid)
            VALUES ('leader', \(holder), 1, clock_timestamp(),
                clock_timestamp() + interval '1 millisecond' * \(ms)::double precision, pg_backend_pid())
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = l.token + 1,
                acquired_at = excluded.acquired_at, expires_at = excluded.expires_at,
                backend_pid = excluded.backend_pid
            WHERE l.expires_at <= clock_timestamp()
            RETURNING token
            """, logger: logger)
        var token: Int64?
        for try await t in rows.decode(Int64.self) { token = t }
        return token
    }

    /// Extends the tenure of `token` by `ttl` from now; false when it has expired or another
    /// node took the lease.
    public static func renew(
        on connection: PostgresConnection, token: Int64, ttl: Duration, logger: Logger
    ) async throws -> Bool {
        let ms = milliseconds(ttl)
        let rows = try await connection.query(
            """
            UPDATE slad_lease SET expires_at = clock_timestamp() + interval '1 millisecond' * \(ms)::double precision,
                backend_pid = pg_backend_pid()
            WHERE name = 'leader' AND token = \(token) AND expires_at > clock_timestamp()
            RETURNING token
            """, logger: logger)
        var renewed = false
        for try await _ in rows.decode(Int64.self) { renewed = true }
        return renewed
    }

    /// Ends the tenure of `token` now, so that a standby takes over without waiting for the
    /// expiry (a clean shutdown). Nothing happens when the tenure is already over.
    public static func release(on connection: PostgresConnection, token: Int64, logger: Logger) async throws {
        try await connection.run(
            """
            UPDATE slad_lease SET expires_at = clock_timestamp()
            WHERE name = 'leader' AND token = \(token) AND expires_at > clock_timestamp()
            """, logger: logger)
    }

    /// The lease as it is now; nil when no node ever took it.
    public static func holder(on connection: PostgresConnection, logger: Logger) async throws -> Holder? {
        let rows = try await connection.query(
            """
            SELECT holder, token,
                floor(extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint, backend_pid
            FROM slad_lease WHERE name = 'leader'
            """, logger: logger)
        var found: Holder?
        for try await (holder, token, left, pid) in rows.decode((String, Int64, Int64, Int32).self) {
            found = Holder(holder: holder, token: token, expiresInMilliseconds: left, backendPID: pid)
        }
        return found
    }

    /// Runs `body` in a transaction that first checks that `token` is the lease's current,
    /// unexpired token; throws ``StaleFencingToken`` (and writes nothing) when it is not.
    @discardableResult
    public static func fenced<Result>(
        on connection: PostgresConnection, token: Int64, logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        do {
            return try await PostgresTransaction.run(on: connection, logger: logger) { connection in
                try await connection.run("SELECT slad_fence(\(token))", logger: logger)
                return try await body(connection)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == StaleFencingToken.sqlState {
            throw StaleFencingToken(token: token, reason: error.serverInfo?[.message] ?? "stale fencing token")
        }
    }

    static func milliseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// A write refused because its fencing token is not the lease's current one: another node took
/// the lease, or this one let it expire. The writer is no longer the leader.
public struct StaleFencingToken: Error, CustomStringConvertible, Equatable {
    /// The SQLSTATE `slad_fence` raises.
    public static let sqlState = "SL409"
    /// The token the write carried.
    public var token: Int64
    /// The server's words: who holds the lease now, or when it expired.
    public var reason: String
    /// The reason.
    public var description: String { reason }

    /// A refusal of `token` for `reason`.
    public init(token: Int64, reason: String) {
        self.token = token
        self.reason = reason
    }
}

/// BEGIN, the body, COMMIT; ROLLBACK when the body throws.
enum PostgresTransaction {
    /// Runs `body` in a transaction on `connection`.
    ///
    /// When COMMIT's answer is lost (the connection cut), whether the transaction committed is
    /// unknown: callers write only what they can write again without doubling it (rows keyed by
    /// event and notification ids).
    static func run<Result>(
        on connection: PostgresConnection, logger: Logger, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        try await connection.run("BEGIN", logger: logger)
        let result: Result
        do {
            result = try await body(connection)
        } catch {
            // On a cut connection the server has rolled back already.
            try? await connection.run("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.run("COMMIT", logger: logger)
        return result
    }
}

extension PostgresConnection {
    /// Runs a statement and reads its answer to the end: postgres-nio reports a statement's
    /// error only to whoever reads its rows, so a statement whose rows nobody read could fail
    /// unseen (a COMMIT among them).
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
