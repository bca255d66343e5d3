import SLAConfig
import SLAPostgres
import Testing

@Suite("PostgreSQL store URLs")
struct LocationTests {
    @Test(
        "a store URL is read as libpq reads it, and shown without its password",
        arguments: [
            (
                "postgresql://slad:s3cr%40t@db.example.com:5433/sla?sslmode=verify-full&application_name=node-a",
                PostgresLocation.Endpoint.tcp(host: "db.example.com", port: 5433), "slad", "s3cr@t", "sla",
                PostgresLocation.TLSMode.verifyFull, "node-a",
                "postgresql://slad:***@db.example.com:5433/sla?sslmode=verify-full"
            ),
            (
                "postgres://ops@10.0.0.7/slad", .tcp(host: "10.0.0.7", port: 5432), "ops", nil, "slad", .disable, nil,
                "postgresql://ops@10.0.0.7:5432/slad"
            ),
            (
                "postgresql://slad@[::1]:6000/x?sslmode=require", .tcp(host: "::1", port: 6000), "slad", nil, "x",
                .require, nil, "postgresql://slad@[::1]:6000/x?sslmode=require"
            ),
            (
                "postgresql://slad@/sla", .socket(path: "/var/run/postgresql/.s.PGSQL.5432"), "slad", nil, "sla",
                .disable, nil, "postgresql://slad@:5432/sla?host=/var/run/postgresql"
            ),
            (
                "postgresql://slad:pw@:5444/sla?host=/run/pg", .socket(path: "/run/pg/.s.PGSQL.5444"), "slad", "pw",
                "sla", .disable, nil, "postgresql://slad:***@:5444/sla?host=/run/pg"
            ),
            (
                "postgresql://slad@localhost", .tcp(host: "localhost", port: 5432), "slad", nil, "slad", .disable, nil,
                "postgresql://slad@localhost:5432/slad"
            ),
        ] as [(String, PostgresLocation.Endpoint, String, String?, String, PostgresLocation.TLSMode, String?, String)])
    func parsed(
        url: String, endpoint: PostgresLocation.Endpoint, user: String, password: String?, database: String,
        tls: PostgresLocation.TLSMode, application: String?, shown: String
    ) throws {
        let location = try PostgresLocation(url: url)
        #expect(location.endpoint == endpoint)
        #expect(location.user == user)
        #expect(location.password == password)
        #expect(location.database == database)
        #expect(location.tls == tls)
        #expect(location.applicationName == application)
        #expect(location.description == shown)
        if let password { #expect(!location.description.contains(password)) }
        #expect(location.withPassword("from-a-file").password == "from-a-file")
        #expect(location.withPassword(nil).password == password)
    }

    @Test(
        "a URL slad cannot use is refused with the part that is wrong, never with its password",
        arguments: [
            ("mysql://slad:hunter2@db/sla", "a PostgreSQL store is a postgresql:// URL"),
            (
                "postgresql://slad:hunter2@db/sla?sslmode=maybe",
                "sslmode 'maybe' is not one of disable, prefer, require, verify-full"
            ),
            (
                "postgresql://slad:hunter2@db/sla?connect_timeout=3",
                "parameter 'connect_timeout' is not one slad reads (host, sslmode, application_name)"
            ),
            (
                "postgresql://slad:hunter2@/sla?sslmode=require",
                "sslmode=require over a Unix socket: TLS is for TCP connections"
            ),
            ("postgresql://slad:hunter2@db/sla/more", "the database name 'sla/more' holds a '/'"),
        ])
    func refused(url: String, message: String) {
        #expect(throws: PostgresLocation.Invalid.self) { try PostgresLocation(url: url) }
        do {
            _ = try PostgresLocation(url: url)
        } catch {
            #expect("\(error)" == message)
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}
