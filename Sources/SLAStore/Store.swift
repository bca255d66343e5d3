import Foundation
import GRDB
import GRDBSQLite
import SLACore
import Synchronization

/// slad's persistent state on SQLite (WAL): the event ledger, incident state,
/// source offsets, quarantine and the outbox.
///
/// Every ingest batch is one transaction: the events, the state they lead to,
/// the quarantined lines and the offsets reached commit together or not at
/// all, so a crash at any instant leaves a store that a restart continues from
/// without losing or doubling anything.
public final class SLAStore: Sendable {
    /// The database; GRDB serializes access.
    let queue: DatabaseQueue
    /// Moves the WAL into the database file from its own connection (nil when read-only);
    /// ``checkpoint()`` runs it, the daemon once a second.
    private let checkpointer: Checkpointer?
    /// Incidents with rows in `breaches` or `rejections` as of the last commit (nil: not read
    /// yet). A batch deletes a touched incident's rows there only when it has some, instead
    /// of two DELETEs per touched incident.
    /// Carried from commit to commit by the one writer; a failed commit drops it, and the
    /// next one reads it again.
    private let withSideRows = Mutex<Set<String>?>(nil)
    private let commits = Atomic<Int>(0)

    /// Batches committed through this store value since it was opened: a reader that computed
    /// something from the store knows it still holds while the count is unchanged.
    public var committedBatches: Int { commits.load(ordering: .acquiring) }

    /// Opens (creating and migrating when needed) the store at `path`; with
    /// `readOnly`, opens an existing store for inspection without migrating or writing.
    public init(path: String, readOnly: Bool = false) throws {
        var config = Configuration()
        config.readonly = readOnly
        // Another process (slactl, a report, a second slad) may hold the lock for a moment.
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            guard !readOnly else { return }
            // WAL: readers (reports, the control socket) never block the writer.
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // FULL: a committed batch survives power loss, not only a crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Incident ids arrive in no key order: state writes touch pages all over the
            // incidents' B-tree, so a page cache above the 2 MiB default helps long imports.
            try db.execute(sql: "PRAGMA cache_size = -65536")
        }
        queue = try readOnly ? Self.openReadOnly(path, config) : DatabaseQueue(path: path, configuration: config)
        if !readOnly { try Migrations.migrator.migrate(queue) }
        checkpointer = readOnly ? nil : try Checkpointer(path: path, configuration: config)
    }

    /// Opens the store for reading. In a folder this process cannot write (a read-only mount,
    /// a copy owned by another user) SQLite cannot create the WAL index beside the file; when
    /// no write-ahead log with commits lies there, the file is the whole store and is opened
    /// `immutable`. A log with commits in such a folder is an error that says what to do: the
    /// file alone would be an older store.
    static func openReadOnly(_ path: String, _ config: Configuration) throws -> DatabaseQueue {
        do {
            return try DatabaseQueue(path: path, configuration: config)
        } catch let error as DatabaseError
            where [.SQLITE_CANTOPEN, .SQLITE_READONLY].contains(error.resultCode.primaryResultCode)
        {
            let files = FileManager.default
            guard files.isReadableFile(atPath: path) else { throw error }
            let log = (try? files.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            guard log == 0 else {
                throw DatabaseError(
                    resultCode: .SQLITE_CANTOPEN,
                    message: "\(path): the folder cannot be written and \(path)-wal holds commits not yet in the "
                        + "file; read the store where it can be written, or copy the folder's slad.sqlite* files "
                        + "to one that can")
            }
            let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
            let encoded = absolute.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? absolute
            return try DatabaseQueue(path: "file:\(encoded)?immutable=1", configuration: config)
        }
    }

    /// Copies committed pages from the WAL into the database file, unless a commit since the
    /// last call ran SQLite's own checkpoint (ingest commits do; decisions and deliveries
    /// skip it, see ``commit(_:)``). A failure (a full disk) is left for the next call: the
    /// WAL keeps every commit meanwhile, and the commits themselves report the disk.
    public func checkpoint() {
        checkpointer?.tick()
    }

    /// Copies the whole WAL into the database file and truncates it; a failure (a reader that
    /// does not end, a full disk) leaves the WAL as it was, which the next start reads.
    public func checkpointAll() {
        checkpointer?.truncate()
    }

    /// Writes a batch in one transaction.
    public func commit(_ batch: Batch) throws {
        // A batch of timer decisions only can be derived again: lost in a power cut, the
        // restart decides the same ids again from the durable events. It commits without
        // waiting for the disk, which takes the fsync out of the deadline → webhook path.
        // Everything read from sources waits for it.
        try write(waitForDisk: !batch.holdsOnlyDecisions) { db in
            let carried = withSideRows.withLock { state in
                defer { state = nil }
                return state
            }
            var sideRows = try carried ?? Self.incidentsWithSideRows(db)
            try db.inTransaction {
                try Self.writeBatch(batch, db, sideRows: &sideRows)
                return .commit
            }
            withSideRows.withLock { $0 = sideRows }
        }
        commits.add(1, ordering: .releasing)
    }

    /// Incidents with rows in `breaches` or `rejections`.
    static func incidentsWithSideRows(_ db: Database) throws -> Set<String> {
        Set(
            try String.fetchAll(
                db,
                sql: "SELECT incident FROM breaches UNION SELECT incident FROM rejections WHERE incident IS NOT NULL"))
    }

    /// Runs `body` on the connection; without `waitForDisk`, under `synchronous = NORMAL`
    /// (WAL: consistent after a crash or power cut, but the last commits may be lost to a
    /// power cut), for writes that are derived and so safe to lose.
    ///
    /// Those writes (timer decisions, delivery records) are on the deadline → notification
    /// path, so they also never run SQLite's automatic checkpoint, which copies the WAL into
    /// the database inside the commit that crosses 1000 WAL pages, fsyncs included, and would
    /// set the p99 of deadline → outbox. Ingest commits still run it, as throughput wants;
    /// ``checkpoint()`` covers a daemon that only decides.
    private func write(waitForDisk: Bool, _ body: (Database) throws -> Void) throws {
        try queue.writeWithoutTransaction { db in
            guard !waitForDisk else {
                checkpointer?.writerCheckpoints()
                return try body(db)
            }
            try db.execute(sql: "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0")
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 1000") }
            try body(db)
        }
    }

    /// Writes `batch` in the open transaction.
    /// `sideRows` holds the incidents with rows in `breaches` or `rejections`, kept current.
    static func writeBatch(_ batch: Batch, _ db: Database, sideRows: inout Set<String>) throws {
        if batch.stateMark == .behindFromHere {
            try db.execute(
                sql: """
                    INSERT INTO state_behind (after_seq)
                        SELECT coalesce(max(seq), 0) FROM ledger WHERE NOT EXISTS (SELECT 1 FROM state_behind)
                    """)
        }
        try Self.insertEvents(batch.events, db)
        for q in batch.quarantine {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO quarantine (source, fingerprint, offset, line, field, reason, raw)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [q.source, q.fingerprint, q.offset, q.line, q.field, q.reason, q.raw])
        }
        for o in batch.offsets {
            try db.execute(
                sql: """
                    INSERT INTO source_offsets (source, fingerprint, path, inode, offset, line, tail)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source, fingerprint) DO UPDATE SET
                        path = excluded.path, inode = excluded.inode, offset = excluded.offset, line = excluded.line,
                        tail = excluded.tail
                    """,
                arguments: [
                    o.source, o.fingerprint, o.path, Int64(bitPattern: o.inode), o.offset, o.line,
                    o.tail.map { Int64(bitPattern: $0) },
                ])
        }
        try Self.writeState(batch, db, sideRows: &sideRows)
        if batch.stateMark == .current { try db.execute(sql: "DELETE FROM state_behind") }
        if let snapshot = batch.liveSnapshot { try Self.writeLiveSnapshot(snapshot, db) }
        let outbox = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO outbox
                    (id, kind, incident, contract, metric, priority, percent, target, due_at, decided_at_ms, late, notify,
                     customer, elapsed, deadline)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let delivery = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO deliveries (sink, notification, state, next_attempt_ms, done_ms, attempts)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
        for n in batch.notifications {
            try Self.run(
                outbox,
                [
                    .text(n.id), .text(n.kind.rawValue), .text(n.incident), .text(n.contract),
                    .text(n.metric.description),
                    .text(n.priority), .text(n.percent.description), .int(n.target), .int(n.due.seconds),
                    .int(n.decidedAtMilliseconds), .int(n.late ? 1 : 0), .text(n.notify.joined(separator: ",")),
                    .text(n.customer), .int(n.elapsed), Value(n.deadline?.seconds),
                ], db)
            // Already in the outbox (decided again after a crash): its deliveries exist.
            guard db.changesCount == 1 else { continue }
            if let at = batch.journaled[n.id] {
                try Self.run(
                    delivery, [.text("journal"), .text(n.id), .text("delivered"), .int(at), .int(at), .int(1)], db)
            } else {
                try Self.run(
                    delivery,
                    [
                        .text("journal"), .text(n.id), .text("pending"), .int(n.decidedAtMilliseconds), .null,
                        .int(0),
                    ], db)
            }
            for sink in n.notify {
                try Self.run(
                    delivery,
                    [.text(sink), .text(n.id), .text("pending"), .int(n.decidedAtMilliseconds), .null, .int(0)],
                    db)
            }
        }
        for (source, st) in batch.stats {
            try db.execute(
                sql: """
                    INSERT INTO source_stats (source, lines, events, duplicates, quarantined, conflicts)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source) DO UPDATE SET lines = lines + excluded.lines, events = events + excluded.events,
                        duplicates = duplicates + excluded.duplicates, quarantined = quarantined + excluded.quarantined,
                        conflicts = conflicts + excluded.conflicts
                    """, arguments: [source, st.lines, st.events, st.duplicates, st.quarantined, st.conflicts])
        }
    }

    /// A value bound to a statement parameter.
    enum Value {
        case int(Int64)
        case text(String)
        /// Bytes; an empty blob is stored as an empty blob, not as NULL.
        case blob([UInt8])
        case null

        init(_ text: String?) { self = text.map(Value.text) ?? .null }
        init(_ int: Int64?) { self = int.map(Value.int) ?? .null }
    }

    /// Runs a cached statement once with `values` bound through the SQLite C API.
    ///
    /// GRDB's `execute(sql:arguments:)` parses, authorizes and boxes arguments on
    /// every call; ingest runs a handful of statements per event, so the hot
    /// path binds directly.
    ///
    /// The values are bound without a copy by SQLite (`SQLITE_STATIC`): texts from one
    /// scratch area per row (on the stack for a row of a few hundred bytes), blobs where they
    /// are, both alive until the step is done. A copy per value would be a SQLite allocation
    /// and a `memcpy` for every text of every row, and a fresh megabyte for each batch's
    /// ledger row.
    static func run(_ statement: Statement, _ values: [Value], _ db: Database) throws {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        var textBytes = 0
        for case .text(let text) in values { textBytes += text.utf8.count }
        let rc = withUnsafeTemporaryAllocation(byteCount: textBytes + 1, alignment: 1) { scratch in
            var at = scratch.baseAddress!
            bindAllButBlobs(s, values) { index, buffer in
                // Copied to `at` even when empty: a nil pointer would bind NULL.
                if let base = buffer.baseAddress { at.copyMemory(from: base, byteCount: buffer.count) }
                sqlite3_bind_text(s, index, at.assumingMemoryBound(to: CChar.self), Int32(buffer.count), nil)
                at += buffer.count
            }
            return stepBindingBlobs(s, values, from: 0)
        }
        sqlite3_reset(s)
        // Nothing is left pointing at memory that is gone once this returns.
        sqlite3_clear_bindings(s)
        guard rc == SQLITE_DONE else { throw failure(rc, db) }
    }

    /// Binds the blobs of `values` from `from` on where their bytes are, then steps `s` once.
    private static func stepBindingBlobs(_ s: OpaquePointer, _ values: [Value], from: Int) -> Int32 {
        guard let k = values[from...].firstIndex(where: { if case .blob = $0 { true } else { false } }),
            case .blob(let bytes) = values[k]
        else { return sqlite3_step(s) }
        return bytes.withUnsafeBytes { buffer in
            bindBlob(s, Int32(k + 1), buffer, usedInPlace)
            return stepBindingBlobs(s, values, from: k + 1)
        }
    }

    /// Resets `statement` and binds `values` to its parameters 1, 2, …; returns the SQLite handle to step.
    static func bind(_ statement: Statement, _ values: [Value]) -> OpaquePointer {
        bind(statement.sqliteStatement, values)
    }

    /// Resets the prepared statement `s` and binds `values` to its parameters 1, 2, … (SQLite
    /// copies texts and blobs: the caller steps `s` later); returns `s`.
    static func bind(_ s: OpaquePointer, _ values: [Value]) -> OpaquePointer {
        sqlite3_reset(s)
        bindAllButBlobs(s, values) { index, buffer in
            _ = sqlite3_bind_text(s, index, buffer.baseAddress, Int32(buffer.count), copied)
        }
        for (i, value) in values.enumerated() {
            guard case .blob(let bytes) = value else { continue }
            bytes.withUnsafeBytes { bindBlob(s, Int32(i + 1), $0, copied) }
        }
        return s
    }

    /// Binds the integers, NULLs and texts of `values` to the parameters 1, 2, … of `s`, each
    /// text through `text` (its parameter index and UTF-8 bytes); blobs are left to the caller.
    private static func bindAllButBlobs(
        _ s: OpaquePointer, _ values: [Value], text: (Int32, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case .int(let v): sqlite3_bind_int64(s, index, v)
            case .null: sqlite3_bind_null(s, index)
            case .text(var string): string.withUTF8 { text(index, $0) }
            case .blob: break
            }
        }
    }

    /// Binds `bytes` as blob parameter `index` of `s`; an empty blob as an empty blob (a nil
    /// pointer would bind NULL).
    private static func bindBlob(
        _ s: OpaquePointer, _ index: Int32, _ bytes: UnsafeRawBufferPointer, _ destructor: sqlite3_destructor_type?
    ) {
        if bytes.isEmpty {
            sqlite3_bind_zeroblob(s, index, 0)
        } else {
            sqlite3_bind_blob(s, index, bytes.baseAddress, Int32(bytes.count), destructor)
        }
    }

    /// SQLite's `SQLITE_STATIC`: it uses the bytes where they are, until the step.
    private static let usedInPlace: sqlite3_destructor_type? = nil
    /// SQLite's `SQLITE_TRANSIENT`: it copies the bytes at once.
    private static let copied = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// The error of a failed step, with SQLite's message.
    static func failure(_ rc: Int32, _ db: Database) -> DatabaseError {
        failure(rc, db.sqliteConnection)
    }

    /// The error of a failed call on the SQLite connection `connection`, with SQLite's message.
    static func failure(_ rc: Int32, _ connection: OpaquePointer?) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(connection)))
    }

    /// Appends events to the ledger: each run of one source's events is one row
    /// (``PackedEvents``), in arrival order; service events also go to `service_events`, which
    /// reports read.
    ///
    /// `events` are new ones only: identity is the engine's, which holds every id of the
    /// ledger from the start (docs/decisions.md), so the ledger keeps no index of ids.
    static func insertEvents(_ events: [(event: SLAEvent, source: String)], _ db: Database) throws {
        guard !events.isEmpty else { return }
        let insertRun = try db.cachedStatement(sql: "INSERT INTO ledger (source, events) VALUES (?, ?)")
        let insertService = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO service_events (id, time, type, service) VALUES (?, ?, ?, ?)")
        var packed: [UInt8] = []
        try events.withUnsafeBufferPointer { all in
            guard let pairs = EventPairs(all) else { return }
            var start = 0
            while start < pairs.count {
                let source = pairs.source(start).pointee
                var end = start + 1
                while end < pairs.count && pairs.source(end).pointee == source { end += 1 }
                packed.removeAll(keepingCapacity: true)
                PackedEvents.encode(pairs, start..<end, into: &packed)
                try run(insertRun, [.text(source), .blob(packed)], db)
                start = end
            }
            for k in 0..<pairs.count where pairs.event(k).pointee.incident == nil {
                let e = pairs.event(k).pointee
                try run(
                    insertService, [.text(e.id), .int(e.time.seconds), .text(e.type.rawValue), Value(e.service)], db)
            }
        }
    }

    /// Replaces the state of the incidents a batch touched; `sideRows` as in ``writeBatch(_:_:sideRows:)``.
    static func writeState(_ batch: Batch, _ db: Database, sideRows: inout Set<String>) throws {
        // An incident's row holds its clocks, so replacing the row replaces them; its breached
        // clocks (the control socket's list) and rejections can disappear (a late event retracts
        // a breach; an earlier opening makes an event no longer "before open"), so both are
        // rewritten.
        let deleteBreaches = try db.cachedStatement(sql: "DELETE FROM breaches WHERE incident = ?")
        let deleteRejections = try db.cachedStatement(sql: "DELETE FROM rejections WHERE incident = ?")
        let deleteIncident = try db.cachedStatement(sql: "DELETE FROM incidents WHERE incident = ?")
        for incident in batch.unevaluated {
            try run(deleteIncident, [.text(incident)], db)
        }
        for incident in batch.incidents.map(\.incident) + batch.unevaluated
        where sideRows.remove(incident) != nil {
            try run(deleteBreaches, [.text(incident)], db)
            try run(deleteRejections, [.text(incident)], db)
        }
        let insertIncident = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO incidents
                    (incident, contract, service, opened_at, opening_priority, priority, status, handoffs, covered, as_of,
                     clocks, settled_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let insertBreach = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO breaches (incident, metric, breached_at, priority, target, elapsed)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
        var packed: [UInt8] = []
        for v in batch.incidents {
            packed.removeAll(keepingCapacity: true)
            PackedClocks.encode(v.clocks, into: &packed)
            try run(
                insertIncident,
                [
                    .text(v.incident), .text(v.contract), Value(v.service), .int(v.openedAt.seconds),
                    .text(v.openingPriority), .text(v.priority), .text(v.status.rawValue), .int(Int64(v.handoffs)),
                    .int(v.covered ? 1 : 0), .int(v.asOf.seconds), .blob(packed),
                    Value(PackedClocks.settledAt(v.clocks)),
                ], db)
            // The breach list is of what customers were promised: OLA holds (internal targets,
            // `ola:…`) are in the row's clocks and the OLA reports, not in it.
            for i in v.clocks.indices where !v.clocks[i].metric.isOLA {
                guard let breach = ClockVerdict.firstBreach(in: v.clocks[i].crossings) else { continue }
                sideRows.insert(v.incident)
                try run(
                    insertBreach,
                    [
                        .text(v.incident), .text(v.clocks[i].metric.description), .int(breach.at.seconds),
                        .text(v.clocks[i].priority), Value(v.clocks[i].target), .int(v.clocks[i].elapsed),
                    ],
                    db)
            }
        }
        let insertRejection = try db.cachedStatement(
            sql: "INSERT OR REPLACE INTO rejections (event_id, incident, reason, detail) VALUES (?, ?, ?, ?)")
        for r in batch.rejections {
            if let incident = r.event.incident { sideRows.insert(incident) }
            try run(
                insertRejection,
                [.text(r.event.id), Value(r.event.incident), .text(r.reason.rawValue), .text(r.detail)], db)
        }
    }

    /// Every event in arrival order.
    public func events() throws -> [(event: SLAEvent, source: String)] {
        var out: [(SLAEvent, String)] = []
        // Grown by appending, which doubles: reserving each row's exact room would copy the
        // whole array once per ledger row, quadratic in the number of batches.
        try forEachEventRun { source, events in
            for e in events { out.append((e, source)) }
        }
        return out
    }

    /// Calls `body` with each ledger row's source and events, in arrival order: the ledger a
    /// run at a time (a run holds at most one batch), never all of it at once.
    public func forEachEventRun(_ body: (String, [SLAEvent]) throws -> Void) throws {
        try queue.read { db in try Self.forEachLedgerRun(db) { _, source, events in try body(source, events) } }
    }

    /// Calls `body` with each ledger row's number, source and events, in arrival order, from
    /// the row after `seq` (0: from the first).
    public func forEachEventRun(after seq: Int64, _ body: (Int64, String, [SLAEvent]) throws -> Void) throws {
        try queue.read { db in try Self.forEachLedgerRun(db, after: seq, body) }
    }

    /// The last ledger row whose incidents' stored state is current, when later rows' is not
    /// (a daemon reading a backlog stopped before writing it, ``Batch/StateMark``); nil when
    /// every incident's state is current.
    public func stateBehind() throws -> Int64? {
        try queue.read { db in try Int64.fetchOne(db, sql: "SELECT after_seq FROM state_behind") }
    }

    /// The live engine's state as stored when the daemon last stopped (``Batch/liveSnapshot``),
    /// when the ledger ended at row `ledgerRow` then; nil when none is stored, it was stored at
    /// another row, or it cannot be read.
    public func liveSnapshot(atLedgerRow ledgerRow: Int64) throws -> LiveSnapshot? {
        try queue.read { db in try Self.withPassingCache(db) { try Self.liveSnapshot(db, atLedgerRow: ledgerRow) } }
    }

    private static func liveSnapshot(_ db: Database, atLedgerRow ledgerRow: Int64) throws -> LiveSnapshot? {
        // Read from the row's pages, each column straight into its array (incremental blob
        // I/O): read as a column, the value (tens of megabytes at a million incidents) would be
        // assembled by SQLite and then copied, beside the engine being built.
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT rowid, length(body) FROM live_snapshot WHERE ledger_row = ?", arguments: [ledgerRow])
        else { return nil }
        var blob: OpaquePointer?
        let rc = sqlite3_blob_open(db.sqliteConnection, "main", "live_snapshot", "body", row[0], 0, &blob)
        defer { sqlite3_blob_close(blob) }
        guard rc == SQLITE_OK else { throw failure(rc, db) }
        return LiveSnapshot(count: row[1]) { into, at in
            sqlite3_blob_read(blob, into.baseAddress, Int32(into.count), Int32(at)) == SQLITE_OK
        }
    }

    /// The incidents the events of the ledger rows after row `seq` name.
    public func incidents(inLedgerAfter seq: Int64) throws -> Set<String> {
        var out = Set<String>()
        try queue.read { db in
            try Self.forEachLedgerRun(db, after: seq) { _, _, events in
                for e in events { if let i = e.incident { out.insert(i) } }
            }
        }
        return out
    }

    /// Calls `body` with each ledger row's number, source and events, in arrival order, from
    /// the row after `after`.
    static func forEachLedgerRun(
        _ db: Database, after: Int64 = 0, _ body: (Int64, String, [SLAEvent]) throws -> Void
    ) throws {
        // The ledger's pages are read once each (at a restart, beside the engine being built).
        try withPassingCache(db) { try forEachLedgerRun(passing: db, after: after, body) }
    }

    private static func forEachLedgerRun(
        passing db: Database, after: Int64, _ body: (Int64, String, [SLAEvent]) throws -> Void
    ) throws {
        let statement = try db.makeStatement(sql: "SELECT seq, source, events FROM ledger WHERE seq > ? ORDER BY seq")
        try statement.setArguments([after])
        let s = statement.sqliteStatement
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw failure(rc, db) }
            let seq = sqlite3_column_int64(s, 0)
            let source = String(cString: sqlite3_column_text(s, 1))
            // The pointer first, then the length (SQLite's documented order).
            let blob = sqlite3_column_blob(s, 2)
            let length = Int(sqlite3_column_bytes(s, 2))
            let bytes = UnsafeBufferPointer(start: blob?.assumingMemoryBound(to: UInt8.self), count: length)
            let events: [SLAEvent]
            do {
                events = try PackedEvents.decode(bytes)
            } catch var malformed as PackedEvents.Malformed {
                malformed.row = seq
                throw malformed
            }
            try body(seq, source, events)
        }
    }

    /// Stores the live snapshot (tens of megabytes at a million incidents) in place of the last
    /// one. The row is made with a zeroed body of the right length, then the snapshot's pieces
    /// are written into its pages (incremental blob I/O) from where they lie: a bound value
    /// would be one array of it all, copied whole into a record, at the stop, when the engine
    /// is at its largest; and the pages of both snapshots pass through the small cache of
    /// ``withPassingCache(_:_:)``.
    static func writeLiveSnapshot(_ snapshot: LiveSnapshot, _ db: Database) throws {
        try withPassingCache(db) {
            try db.execute(sql: "DELETE FROM live_snapshot")
            let count = snapshot.encodedCount
            try db.execute(
                sql: """
                    INSERT INTO live_snapshot (ledger_row, body)
                    VALUES ((SELECT coalesce(max(seq), 0) FROM ledger), zeroblob(?))
                    """,
                arguments: [count])
            var blob: OpaquePointer?
            var rc = sqlite3_blob_open(
                db.sqliteConnection, "main", "live_snapshot", "body", db.lastInsertedRowID, 1, &blob)
            defer { sqlite3_blob_close(blob) }
            guard rc == SQLITE_OK else { throw failure(rc, db) }
            var at = 0
            snapshot.encode { piece in
                guard rc == SQLITE_OK, let base = piece.baseAddress, at + piece.count <= count else { return }
                rc = sqlite3_blob_write(blob, base, Int32(piece.count), Int32(at))
                at += piece.count
            }
            guard rc == SQLITE_OK else { throw failure(rc, db) }
            guard at == count else { throw DatabaseError(message: "live snapshot: \(at) bytes written of \(count)") }
        }
    }

    /// Runs `body` with SQLite's default page cache (2 MB) in place of the connection's, then
    /// gives the cache's memory back: for reads and writes that pass over many pages once (the
    /// ledger, the live snapshot), which would otherwise fill the whole cache for nothing.
    static func withPassingCache<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        let cacheSize = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? -2000
        try db.execute(sql: "PRAGMA cache_size = -2000")
        defer {
            try? db.execute(sql: "PRAGMA cache_size = \(cacheSize)")
            try? db.execute(sql: "PRAGMA shrink_memory")
        }
        return try body()
    }

    /// Saved offsets of every file of every source.
    public func offsets() throws -> [SourceOffset] {
        try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT source, fingerprint, path, inode, offset, line, tail FROM source_offsets"
            ).map {
                SourceOffset(
                    source: $0[0], fingerprint: $0[1], path: $0[2], inode: UInt64(bitPattern: $0[3]), offset: $0[4],
                    line: $0[5], tail: ($0[6] as Int64?).map { UInt64(bitPattern: $0) })
            }
        }
    }

    /// A notification from the columns of ``OutboxColumns/select``, starting at `i`.
    static func notification(_ r: Row, from i: Int = 0) -> SLANotification? {
        OutboxColumns.notification(
            OutboxColumns.Row(
                id: r[i], kind: r[i + 1], incident: r[i + 2], contract: r[i + 3], metric: r[i + 4], priority: r[i + 5],
                percent: r[i + 6], target: r[i + 7], due: r[i + 8], decidedAtMilliseconds: r[i + 9], late: r[i + 10],
                notify: r[i + 11], customer: r[i + 12], elapsed: r[i + 13], deadline: r[i + 14]))
    }

    /// Every notification decided so far, in decision order.
    public func outbox() throws -> [SLANotification] {
        try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(OutboxColumns.select) FROM outbox o ORDER BY o.decided_at_ms, o.id"
            ).compactMap { Self.notification($0) }
        }
    }

    /// Which of `ids` the outbox holds already.
    public func knownNotifications(_ ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try queue.read { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
            return Set(
                try String.fetchAll(
                    db, sql: "SELECT id FROM outbox WHERE id IN (\(marks))", arguments: StatementArguments(ids)))
        }
    }

    /// Pending deliveries of one sink in outbox order, at most `limit`.
    public func pendingDeliveries(sink: String, limit: Int) throws -> [PendingDelivery] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT d.seq, d.attempts, d.next_attempt_ms, \(OutboxColumns.select)
                    FROM deliveries d JOIN outbox o ON o.id = d.notification
                    WHERE d.sink = ? AND d.state = 'pending' ORDER BY d.seq LIMIT ?
                    """, arguments: [sink, limit]
            ).compactMap { r in
                Self.notification(r, from: 3).map {
                    PendingDelivery(
                        seq: r[0], sink: sink, notification: $0, attempts: r[1], nextAttemptMilliseconds: r[2])
                }
            }
        }
    }

    /// Records an attempt's outcome: still `pending` with the next attempt time, or a final
    /// state (`delivered`, `failed`, `skipped`) with its time and reason.
    ///
    /// Not waited onto the disk (synchronous NORMAL): a record lost in a power cut means
    /// one more delivery with the same id, which at-least-once allows.
    public func recordDelivery(seq: Int64, attempts: Int, outcome: DeliveryOutcome) throws {
        let (state, next, done, error) = OutboxColumns.outcome(outcome)
        try write(waitForDisk: false) { db in
            try db.execute(
                sql: """
                    UPDATE deliveries SET state = ?, attempts = ?, next_attempt_ms = COALESCE(?, next_attempt_ms),
                        done_ms = ?, last_error = ?
                    WHERE seq = ?
                    """,
                arguments: [state, attempts, next, done, error, seq])
        }
    }

    /// Pending deliveries to sinks no longer configured are failed (and counted), never left waiting silently.
    public func failOrphanDeliveries(knownSinks: Set<String>, nowMilliseconds: Int64) throws -> [String: Int] {
        try queue.write { db in
            var failed: [String: Int] = [:]
            let sinks = try String.fetchAll(db, sql: "SELECT DISTINCT sink FROM deliveries WHERE state = 'pending'")
            for sink in sinks where !knownSinks.contains(sink) {
                try db.execute(
                    sql: """
                        UPDATE deliveries SET state = 'failed', done_ms = ?, last_error = ?
                        WHERE sink = ? AND state = 'pending'
                        """,
                    arguments: [nowMilliseconds, OutboxColumns.orphanReason(sink), sink])
                failed[sink] = db.changesCount
            }
            return failed
        }
    }

    /// Pending deliveries per sink (the outbox depth), through the partial index on pending rows.
    public func pendingDeliveryCounts() throws -> [String: Int] {
        try queue.read { db in
            var out: [String: Int] = [:]
            for r in try Row.fetchAll(
                db, sql: "SELECT sink, COUNT(*) FROM deliveries WHERE state = 'pending' GROUP BY sink")
            {
                out[r[0]] = r[1]
            }
            return out
        }
    }

    /// Deliveries per sink and state (`journal` → `delivered` → 12).
    public func deliveryCounts() throws -> [String: [String: Int]] {
        try queue.read { db in
            var out: [String: [String: Int]] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT sink, state, COUNT(*) FROM deliveries GROUP BY sink, state") {
                out[r[0], default: [:]][r[1]] = r[2]
            }
            return out
        }
    }

    /// Breached clocks as of `asOf` with breach instants from `since` on (all when nil), oldest
    /// first, at most `limit`; whether more matched.
    ///
    /// The same truth as the reports: stored verdicts, advanced to `asOf`. A settled incident's
    /// breaches are its stored rows; an incident with a clock still undecided is read and
    /// projected with its contract in `contracts` (a clock that ran out while the incident sat
    /// open, a breach too old to be announced, one that came back after a retraction). Unsettled
    /// incidents are open work, so the projection reads open incidents only.
    public func breaches(
        since: Instant?, contract: String?, limit: Int, asOf: Instant, contracts: [String: Contract]
    ) throws -> (breaches: [StoredBreach], truncated: Bool) {
        let lower = since?.seconds ?? Int64.min
        return try queue.read { db in
            var found = try Row.fetchAll(
                db,
                sql: """
                    SELECT b.incident, i.contract, b.metric, b.priority, b.target, b.elapsed, b.breached_at
                    FROM breaches b JOIN incidents i ON i.incident = b.incident
                    WHERE i.settled_at IS NOT NULL AND b.breached_at >= ? AND (? IS NULL OR i.contract = ?)
                    ORDER BY b.breached_at, b.incident, b.metric LIMIT ?
                    """,
                arguments: [lower, contract, contract, limit + 1]
            ).map { r in
                StoredBreach(
                    incident: r[0], contract: r[1], metric: r[2], priority: r[3], targetSeconds: r[4],
                    elapsedSeconds: r[5], breachedAt: Instant(r[6] as Int64))
            }
            let statement = try db.makeStatement(
                sql: """
                    SELECT incident, service, opened_at, opening_priority, priority, status, handoffs, covered, as_of,
                        clocks, contract
                    FROM incidents WHERE settled_at IS NULL AND (?1 IS NULL OR contract = ?1)
                    """)
            let s = Self.bind(statement, [contract.map(Value.text) ?? .null])
            defer { sqlite3_reset(s) }
            var row = VerdictRows(s)
            var v = IncidentVerdict(
                incident: "", contract: "", service: nil, openedAt: Instant(0), openingPriority: "", priority: "",
                status: .open, handoffs: 0, covered: false, clocks: [], asOf: Instant(0))
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else { throw Self.failure(rc, db) }
                row.fillIncident(&v)
                v.contract = row.bytes(10).map(VerdictRows.string) ?? ""
                let count = try row.fillClocks(&v.clocks, droppingDecidedBefore: nil) {
                    PackedClocks.Malformed(incident: v.incident)
                }
                v.clocks.removeSubrange(count...)
                found += StoredBreach.projected(&v, from: lower, asOf: asOf, contracts: contracts)
            }
            found.sort(by: StoredBreach.precedes)
            return (Array(found.prefix(limit)), found.count > limit)
        }
    }

    /// Counters per source since the store was created.
    public func sourceStats() throws -> [String: SourceStats] {
        try queue.read { db in
            var out: [String: SourceStats] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT source, lines, events, duplicates, quarantined, conflicts FROM source_stats")
            {
                var st = SourceStats()
                st.lines = row[1]
                st.events = row[2]
                st.duplicates = row[3]
                st.quarantined = row[4]
                st.conflicts = row[5]
                out[row[0]] = st
            }
            return out
        }
    }

    /// Quarantined lines per reason.
    public func quarantineCounts() throws -> [String: Int] {
        try queue.read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT reason, COUNT(*) FROM quarantine GROUP BY reason") {
                out[row[0]] = row[1]
            }
            return out
        }
    }

    /// A value as dump text: `∅` for null, numbers and text as they are (`|`, `\` and newlines escaped).
    static func dumpText(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: return "∅"
        case .int64(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return DumpLines.text(s)
        case .blob(let b): return "x'" + b.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }

    /// A canonical text dump of the durable state (not of arrival order):
    /// equal dumps mean equal ledgers, incident states, verdicts, quarantine and offsets.
    public func canonicalDump() throws -> String {
        try queue.read { db in
            var out = ""
            func dump(_ title: String, _ sql: String) throws {
                out += "# \(title)\n"
                let rows = try Row.fetchCursor(db, sql: sql)
                while let row = try rows.next() {
                    out += row.databaseValues.map(Self.dumpText).joined(separator: "|") + "\n"
                }
            }
            // The events one line each by id (in bytes, as SQLite orders text), as they were
            // stored before they moved into runs.
            out += "# events\n"
            var lines: [(id: String, line: String)] = []
            try Self.forEachLedgerRun(db) { _, source, events in
                for e in events { lines.append((e.id, DumpLines.event(e, source: source))) }
            }
            lines.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
            for l in lines { out += l.line + "\n" }
            try dump(
                "incidents",
                """
                SELECT incident, contract, service, opened_at, opening_priority, priority, status, handoffs, covered,
                    as_of, settled_at
                FROM incidents ORDER BY incident
                """)
            // The clocks one row each, as they were stored before they moved into their incident's row.
            out += "# clocks\n"
            let rows = try Row.fetchCursor(db, sql: "SELECT incident, clocks FROM incidents ORDER BY incident")
            while let row = try rows.next() {
                let incident: String = row[0]
                let bytes: [UInt8] = (row[1] as Data?).map(Array.init) ?? []
                for c in try bytes.withUnsafeBufferPointer({ try PackedClocks.rows($0, incident: incident) }) {
                    out += DumpLines.clock(c, incident: incident) + "\n"
                }
            }
            try dump("breaches", "SELECT * FROM breaches ORDER BY incident, metric")
            try dump("rejections", "SELECT * FROM rejections ORDER BY event_id")
            try dump("quarantine", "SELECT * FROM quarantine ORDER BY source, fingerprint, offset")
            try dump(
                "offsets", "SELECT source, fingerprint, offset, line FROM source_offsets ORDER BY source, fingerprint")
            return out
        }
    }
}

/// Checkpoints the WAL from a connection of its own, for the commits that skip SQLite's
/// automatic checkpoint (``SLAStore/commit(_:)``).
///
/// A passive checkpoint copies what no reader still needs and never takes the writer's
/// lock, so commits go on meanwhile; once everything is copied, the next commit starts the
/// WAL from its beginning again, which keeps it small. A tick after which ingest committed
/// does nothing: those commits checkpoint themselves, and a second checkpointer beside them
/// competes with the import for the disk and the second core.
final class Checkpointer: Sendable {
    /// Commits that ran SQLite's own checkpoint, counted, and the count at the last tick.
    private let selfCheckpointing = Atomic<Int>(0)
    private let seen = Mutex(0)
    private let connection: DatabaseQueue
    /// WAL frames (pages of 4 KiB) beyond which a checkpoint waits for the writer.
    private static let largeWAL = 16_384

    init(path: String, configuration: Configuration) throws {
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    /// A commit that runs SQLite's automatic checkpoint is starting.
    func writerCheckpoints() { selfCheckpointing.add(1, ordering: .relaxed) }

    /// Copies everything and truncates the WAL, waiting for readers (SQLite's busy handler).
    func truncate() {
        try? connection.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// Checkpoints unless the writer did since the last tick.
    func tick() {
        let now = selfCheckpointing.load(ordering: .relaxed)
        let idle = seen.withLock { last in
            defer { last = now }
            return last == now
        }
        guard idle else { return }
        try? connection.writeWithoutTransaction { db in
            // Under a writer that never pauses, passive checkpoints never reach the WAL's end, so
            // it would only grow: past 64 MiB one checkpoint waits for the writer, copies
            // everything and truncates the WAL (commits wait for it, once per 64 MiB).
            if try db.checkpoint(.passive).walFrameCount > Self.largeWAL { try db.checkpoint(.truncate) }
        }
    }
}

/// One breached clock as the store lists it (``SLAStore/breaches(since:contract:limit:asOf:contracts:)``).
public struct StoredBreach: Sendable, Hashable {
    /// Incident id.
    public var incident: String
    /// Contract id.
    public var contract: String
    /// `reaction`, `resolution` or `promise:NAME`.
    public var metric: String
    /// Priority in force when the clock breached.
    public var priority: String
    /// Target, business seconds.
    public var targetSeconds: Int64?
    /// Business seconds the clock ran.
    public var elapsedSeconds: Int64
    /// When the target was used up.
    public var breachedAt: Instant

    package init(
        incident: String, contract: String, metric: String, priority: String, targetSeconds: Int64?,
        elapsedSeconds: Int64, breachedAt: Instant
    ) {
        (self.incident, self.contract, self.metric, self.priority) = (incident, contract, metric, priority)
        (self.targetSeconds, self.elapsedSeconds, self.breachedAt) = (targetSeconds, elapsedSeconds, breachedAt)
    }

    /// The customer-facing breaches of an incident not settled yet, advanced to `asOf` with its
    /// contract (when `contracts` has it), from `lower` on: what both stores add to the settled
    /// incidents' stored breaches.
    package static func projected(
        _ v: inout IncidentVerdict, from lower: Int64, asOf: Instant, contracts: [String: Contract]
    ) -> [StoredBreach] {
        if let c = contracts[v.contract] { v.project(to: asOf, in: c) }
        var out: [StoredBreach] = []
        for clock in v.clocks where !clock.metric.isOLA {
            guard let breach = clock.breach, breach.at.seconds >= lower else { continue }
            out.append(
                StoredBreach(
                    incident: v.incident, contract: v.contract, metric: clock.metric.description,
                    priority: breach.priority, targetSeconds: breach.target, elapsedSeconds: clock.elapsed,
                    breachedAt: breach.at))
        }
        return out
    }

    /// Oldest first, then by incident and metric: the order of a breach list.
    package static func precedes(_ a: StoredBreach, _ b: StoredBreach) -> Bool {
        (a.breachedAt, a.incident, a.metric) < (b.breachedAt, b.incident, b.metric)
    }
}
