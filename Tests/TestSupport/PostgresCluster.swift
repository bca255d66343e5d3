import Foundation
import Logging
import PostgresNIO
import SLAConfig
import SLAPostgres

#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL cluster for a test or a benchmark: `initdb` in a temporary folder, `pg_ctl start`
/// on a free loopback port, and `stop()` to end it and remove the folder.
///
/// The server comes from Debian's `postgresql` package (scripts/test.sh installs it). It does
/// not run as root, so under root the folder belongs to the `postgres` user (`nobody` when
/// there is none) and the programs run as that user.
public final class PostgresCluster: Sendable {
    /// The cluster's folder: `data/`, the log and the server's socket.
    public let folder: URL
    /// The loopback TCP port it listens on.
    public let port: Int
    private let user: String?

    /// Where the server's programs are: Debian keeps them out of PATH, one folder a version.
    static func binaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for v in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = root.appendingPathComponent(v).appendingPathComponent("bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        throw Failure(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): "
                + "apt-get install postgresql, as scripts/test.sh does")
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Creates and starts a cluster whose superuser is `slad` (trust authentication on the socket
    /// and loopback). `durable: false` turns fsync off: tests do not cut the server's power.
    ///
    /// `initdb` and `pg_ctl` are waited for on a thread of Dispatch's, not of the cooperative
    /// pool: on two cores a blocked pool thread starves every other test's tasks for seconds.
    public static func start(durable: Bool = false) async throws -> PostgresCluster {
        try await offPool { try startWaiting(durable: durable) }
    }

    /// Runs `body` on a cluster started for it (``start(durable:)``), stopped and removed
    /// afterwards however `body` ends.
    public static func with<T: Sendable>(durable: Bool = false, _ body: (PostgresCluster) async throws -> T)
        async throws -> T
    {
        let cluster = try await start(durable: durable)
        do {
            let result = try await body(cluster)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    /// Stops the server at once and removes its folder.
    public func stop() async {
        try? await Self.offPool { self.stopWaiting() }
    }

    /// Runs `body` on a Dispatch thread and waits for it without holding a cooperative one.
    public static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let result = await withCheckedContinuation { done in
            DispatchQueue.global().async { done.resume(returning: Result { try body() }) }
        }
        return try result.get()
    }

    private static func startWaiting(durable: Bool) throws -> PostgresCluster {
        let bin = try binaries()
        let folder = URL(fileURLWithPath: "/tmp/slad-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        var user: String?
        if getuid() == 0 {
            user = getpwnam("postgres") != nil ? "postgres" : "nobody"
            _ = try run(["chown", user!, folder.path])
        }
        let data = folder.appendingPathComponent("data").path
        let initdb = try run(
            [
                bin.appendingPathComponent("initdb").path, "-D", data, "-U", "slad", "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync",
            ], as: user)
        guard initdb.status == 0 else {
            throw Failure("initdb failed (\(initdb.status)): \(initdb.output)")
        }
        var lastError = ""
        for _ in 0..<5 {
            let port = freePort()
            var options = "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c max_connections=200"
            if !durable { options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" }
            let started = try run(
                [
                    bin.appendingPathComponent("pg_ctl").path, "-D", data, "-l",
                    folder.appendingPathComponent("log").path,
                    "-w", "-t", "60", "-o", options, "start",
                ], as: user)
            if started.status == 0 { return PostgresCluster(folder: folder, port: port, user: user) }
            lastError =
                started.output
                + ((try? String(contentsOf: folder.appendingPathComponent("log"), encoding: .utf8)) ?? "")
        }
        try? FileManager.default.removeItem(at: folder)
        throw Failure("pg_ctl start failed five times: \(lastError)")
    }

    private init(folder: URL, port: Int, user: String?) {
        self.folder = folder
        self.port = port
        self.user = user
    }

    private func stopWaiting() {
        if let bin = try? Self.binaries() {
            _ = try? Self.run(
                [
                    bin.appendingPathComponent("pg_ctl").path, "-D", folder.appendingPathComponent("data").path, "-m",
                    "immediate", "-w", "stop",
                ], as: user)
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// The cluster's database `database` over TCP on loopback.
    public func location(database: String = "slad", applicationName: String? = nil) throws -> PostgresLocation {
        var url = "postgresql://slad@127.0.0.1:\(port)/\(database)"
        if let applicationName { url += "?application_name=\(applicationName)" }
        return try PostgresLocation(url: url)
    }

    /// Creates database `name` (through the `postgres` database) and returns where it is.
    public func createDatabase(_ name: String, logger: Logger) async throws -> PostgresLocation {
        let admin = try await location(database: "postgres").connect(logger: logger)
        do {
            for try await _ in try await admin.query(
                PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\""), logger: logger)
            {}
        } catch {
            try? await admin.close()
            throw error
        }
        try await admin.close()
        return try location(database: name)
    }

    /// How a program ended, and what it wrote (standard output and error together).
    public struct Ran: Sendable {
        /// Its exit status; 128 + the signal when a signal ended it.
        public var status: Int32
        /// What it wrote.
        public var output: String
    }

    /// Runs a program to its end (as `user` through setpriv when given), its output collected.
    ///
    /// ``Spawned`` rather than `Process`, which waited forever here for a pg_ctl that had
    /// exited. The output goes to a file, not a pipe, because the server pg_ctl starts lives on
    /// with pg_ctl's descriptors.
    @discardableResult
    public static func run(_ arguments: [String], as user: String? = nil) throws -> Ran {
        var prefix: [String] = []
        if let user, let pw = getpwnam(user) {
            prefix = [
                "setpriv", "--reuid=\(pw.pointee.pw_uid)", "--regid=\(pw.pointee.pw_gid)", "--clear-groups", "--",
            ]
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("slad-pg-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try Spawned(["/usr/bin/env"] + prefix + arguments, output: log, append: false)
        let exited = child.wait()
        return Ran(status: exited, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}

/// A TCP port nothing listens on right now (bound to 0, read, closed).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
    }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}
