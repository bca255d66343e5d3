import Logging
import PostgresNIO

/// The tables of a PostgreSQL store and the steps that bring a database to them.
///
/// The tables are those of the SQLite store (`SLAStore`), with PostgreSQL's types, plus the
/// leader lease (``LeaderLease``). Rows a leader writes (ledger runs, notifications) carry the
/// fencing token they were written under, so that who decided what can be read back.
///
/// Every node of a cluster runs ``migrate(_:logger:)`` at start; an advisory lock held for the
/// migration's transaction makes the others wait for the first, then find nothing to do.
public enum PostgresSchema {
    /// The schema version this build writes.
    public static var version: Int { steps.count }

    /// The statements of each version, in order; a step's statements run in one transaction
    /// with the version's row.
    static let steps: [[String]] = [
        [
            """
            CREATE TABLE slad_lease (
                name text PRIMARY KEY,
                holder text NOT NULL,
                token bigint NOT NULL,
                acquired_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                backend_pid integer NOT NULL
            )
            """,
            // Every write of a leader starts with this: it takes a share lock on the lease row, so
            // a takeover (an UPDATE of that row) waits for the write to commit, and every write
            // after the takeover sees the new token and is refused. The clock is the server's:
            // one clock for every node, whatever their own say.
            """
            CREATE FUNCTION slad_fence(expected bigint) RETURNS void LANGUAGE plpgsql AS $$
            DECLARE
                lease record;
            BEGIN
                SELECT holder, token, expires_at INTO lease FROM slad_lease WHERE name = 'leader' FOR SHARE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION 'fencing token % is stale: no node holds the lease', expected
                        USING ERRCODE = 'SL409';
                END IF;
                IF lease.token <> expected THEN
                    RAISE EXCEPTION 'fencing token % is stale: % holds the lease with token %',
                        expected, lease.holder, lease.token USING ERRCODE = 'SL409';
                END IF;
                IF lease.expires_at <= clock_timestamp() THEN
                    RAISE EXCEPTION 'fencing token % is stale: the lease expired at % and was not renewed',
                        expected, lease.expires_at USING ERRCODE = 'SL409';
                END IF;
            END
            $$
            """,
            "CREATE TABLE ledger (seq bigserial PRIMARY KEY, source text NOT NULL, events bytea NOT NULL, token bigint NOT NULL)",
            """
            CREATE TABLE service_events (
                id text PRIMARY KEY, time bigint NOT NULL, type text NOT NULL, service text
            )
            """,
            """
            CREATE TABLE source_offsets (
                source text NOT NULL, fingerprint text NOT NULL, path text NOT NULL, inode bigint NOT NULL,
                "offset" bigint NOT NULL, line bigint NOT NULL, tail bigint,
                PRIMARY KEY (source, fingerprint)
            )
            """,
            """
            CREATE TABLE quarantine (
                source text NOT NULL, fingerprint text NOT NULL, "offset" bigint NOT NULL, line bigint NOT NULL,
                field text, reason text NOT NULL, raw text NOT NULL,
                PRIMARY KEY (source, fingerprint, "offset")
            )
            """,
            """
            CREATE TABLE incidents (
                incident text PRIMARY KEY, contract text NOT NULL, service text, opened_at bigint NOT NULL,
                opening_priority text NOT NULL, priority text NOT NULL, status text NOT NULL,
                handoffs integer NOT NULL, covered integer NOT NULL, as_of bigint NOT NULL,
                clocks bytea NOT NULL, settled_at bigint
            )
            """,
            """
            CREATE INDEX incidents_report ON incidents (
                contract, coalesce(settled_at, 9223372036854775807), opened_at)
            """,
            """
            CREATE TABLE breaches (
                incident text NOT NULL, metric text NOT NULL, breached_at bigint NOT NULL, priority text NOT NULL,
                target bigint, elapsed bigint NOT NULL,
                PRIMARY KEY (incident, metric)
            )
            """,
            "CREATE INDEX breaches_time ON breaches (breached_at)",
            """
            CREATE TABLE rejections (
                event_id text PRIMARY KEY, incident text, reason text NOT NULL, detail text NOT NULL
            )
            """,
            "CREATE INDEX rejections_incident ON rejections (incident)",
            """
            CREATE TABLE source_stats (
                source text PRIMARY KEY, lines bigint NOT NULL, events bigint NOT NULL, duplicates bigint NOT NULL,
                quarantined bigint NOT NULL, conflicts bigint NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE outbox (
                id text PRIMARY KEY, kind text NOT NULL, incident text NOT NULL, contract text NOT NULL,
                metric text NOT NULL, priority text NOT NULL, percent text NOT NULL, target bigint NOT NULL,
                due_at bigint NOT NULL, decided_at_ms bigint NOT NULL, late integer NOT NULL, notify text NOT NULL,
                delivered_at_ms bigint, attempts integer NOT NULL DEFAULT 0, customer text NOT NULL DEFAULT '',
                elapsed bigint NOT NULL DEFAULT 0, deadline bigint, token bigint NOT NULL
            )
            """,
            """
            CREATE TABLE deliveries (
                seq bigserial PRIMARY KEY, sink text NOT NULL, notification text NOT NULL REFERENCES outbox (id),
                state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
                attempts integer NOT NULL DEFAULT 0, next_attempt_ms bigint NOT NULL, done_ms bigint,
                last_error text,
                UNIQUE (sink, notification)
            )
            """,
            "CREATE INDEX deliveries_pending ON deliveries (sink, seq) WHERE state = 'pending'",
            "CREATE INDEX service_events_time ON service_events (time)",
            """
            CREATE TABLE sealed_reports (
                contract text NOT NULL, month text NOT NULL, sealed_at_ms bigint NOT NULL, sha256 text NOT NULL,
                total_minor bigint NOT NULL, currency text NOT NULL, body bytea NOT NULL,
                PRIMARY KEY (contract, month)
            )
            """,
            """
            CREATE TABLE report_adjustments (
                contract text NOT NULL, sealed_month text NOT NULL, applied_month text NOT NULL,
                amount_minor bigint NOT NULL,
                PRIMARY KEY (contract, sealed_month, applied_month)
            )
            """,
            "CREATE TABLE state_behind (after_seq bigint NOT NULL)",
        ],
        [
            // At most one row: the live engine's state as the last leader stopped (LiveSnapshot),
            // valid while the ledger ends at `ledger_row`.
            "CREATE TABLE live_snapshot (ledger_row bigint NOT NULL, body bytea NOT NULL)"
        ],
    ]

    /// A database whose schema is newer than this build's.
    public struct TooNew: Error, CustomStringConvertible {
        /// The database's version.
        public var found: Int
        /// What to do.
        public var description: String {
            "the PostgreSQL store is at schema version \(found), newer than this slad's \(PostgresSchema.version): "
                + "run the slad that wrote it, or a newer one"
        }
    }

    /// A database whose schema is older than this build's, opened by a reader that does not migrate.
    public struct TooOld: Error, CustomStringConvertible {
        /// The database's version (0: no slad schema at all).
        public var found: Int
        /// What to do.
        public var description: String {
            found == 0
                ? "the PostgreSQL database holds no slad store: start the daemon on it once to create one"
                : "the PostgreSQL store is at schema version \(found), older than this slad's \(PostgresSchema.version): "
                    + "start the daemon once to migrate it"
        }
    }

    /// The database's schema version; 0 when slad never migrated it.
    public static func found(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        var exists = false
        for try await e in try await connection.query(
            "SELECT to_regclass('slad_schema') IS NOT NULL", logger: logger
        ).decode(Bool.self) {
            exists = e
        }
        guard exists else { return 0 }
        var at = 0
        for try await v in try await connection.query("SELECT max(version)::bigint FROM slad_schema", logger: logger)
            .decode(Int64?.self)
        {
            at = Int(v ?? 0)
        }
        return at
    }

    /// Throws unless the database is at this build's version: for readers, which never migrate.
    public static func requireCurrent(_ connection: PostgresConnection, logger: Logger) async throws {
        let at = try await found(connection, logger: logger)
        if at > version { throw TooNew(found: at) }
        if at < version { throw TooOld(found: at) }
    }

    /// Brings the database to ``version``, each missing step in one transaction; returns the
    /// version found before.
    @discardableResult
    public static func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        try await PostgresTransaction.run(on: connection, logger: logger) { connection in
            // One migrating node at a time; the lock ends with the transaction.
            try await connection.run("SELECT pg_advisory_xact_lock(7473656164)", logger: logger)
            try await connection.run(
                "CREATE TABLE IF NOT EXISTS slad_schema (version integer NOT NULL)", logger: logger)
            let current = try await connection.query("SELECT max(version)::bigint FROM slad_schema", logger: logger)
            var at = 0
            for try await v in current.decode(Int64?.self) { at = Int(v ?? 0) }
            guard at <= version else { throw TooNew(found: at) }
            for step in at..<version {
                for statement in steps[step] {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.run("INSERT INTO slad_schema (version) VALUES (\(step + 1))", logger: logger)
            }
            return at
        }
    }
}
