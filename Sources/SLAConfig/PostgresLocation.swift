import Foundation

/// Where a PostgreSQL store lives: the `store: postgresql://…` value of slad.yaml, parsed.
///
/// The URL takes libpq's form, `postgresql://[user[:password]@][host][:port][/database][?k=v&…]`,
/// with the parameters slad uses: `host` (a folder holding the server's Unix socket, as libpq
/// reads it), `sslmode` (`disable`, `prefer`, `require` or `verify-full`) and
/// `application_name`. A host that is empty or starts with `/` is a socket folder. The password
/// is best given apart from the URL (a file or a systemd credential, see ``withPassword(_:)``);
/// the description never shows it.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// How to reach the server.
    public enum Endpoint: Sendable, Equatable {
        /// TCP to a host name or address and port.
        case tcp(host: String, port: Int)
        /// The Unix socket file (`FOLDER/.s.PGSQL.PORT`).
        case socket(path: String)
    }

    /// Whether and how the connection uses TLS (libpq's `sslmode`).
    public enum TLSMode: String, Sendable, Equatable {
        /// Never.
        case disable
        /// When the server offers it, without checking its certificate.
        case prefer
        /// Always, without checking the server's certificate (libpq's meaning).
        case require
        /// Always, with the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    /// How to reach the server.
    public var endpoint: Endpoint
    /// The role to log in as.
    public var user: String
    /// The password, when the server asks for one.
    public var password: String?
    /// The database.
    public var database: String
    /// TLS, as `sslmode` says; `disable` over a Unix socket.
    public var tls: TLSMode
    /// Shown in `pg_stat_activity`; slad sets it to name the node.
    public var applicationName: String?

    /// A URL that is not one slad can use.
    public struct Invalid: Error, CustomStringConvertible {
        /// What is wrong, without the password.
        public var description: String
    }

    /// Parses `url`; the error names the part that is wrong and never repeats a password.
    public init(url: String) throws {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            throw Invalid(description: "a PostgreSQL store is a postgresql:// URL")
        }
        guard let parts = URLComponents(string: url) else {
            throw Invalid(description: "not a URL (percent-encode reserved characters in the user or password)")
        }
        var socketFolder: String?
        var tls: TLSMode?
        var applicationName: String?
        for item in parts.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "host": socketFolder = value
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw Invalid(
                        description: "sslmode '\(value)' is not one of disable, prefer, require, verify-full")
                }
                tls = mode
            case "application_name": applicationName = value
            default:
                throw Invalid(
                    description: "parameter '\(item.name)' is not one slad reads (host, sslmode, application_name)")
            }
        }
        let port = parts.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "port \(port) is out of range") }
        var host = (socketFolder ?? parts.percentEncodedHost.flatMap { $0.removingPercentEncoding }) ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty || host.hasPrefix("/") {
            let folder = host.isEmpty ? "/var/run/postgresql" : host
            endpoint = .socket(path: "\(folder)/.s.PGSQL.\(port)")
            if let tls, tls != .disable {
                throw Invalid(description: "sslmode=\(tls.rawValue) over a Unix socket: TLS is for TCP connections")
            }
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        self.tls = tls ?? .disable
        user = parts.user ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        password = parts.password
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        guard !path.contains("/") else { throw Invalid(description: "the database name '\(path)' holds a '/'") }
        database = path.isEmpty ? user : path
        self.applicationName = applicationName
    }

    /// The same location with the password read from elsewhere (a file, a credential), which
    /// takes the place of one in the URL.
    public func withPassword(_ password: String?) -> PostgresLocation {
        var copy = self
        if let password { copy.password = password }
        return copy
    }

    /// The URL without its password, for logs, status and errors.
    public var description: String {
        let who = user.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? user
        let secret = password == nil ? "" : ":***"
        switch endpoint {
        case .tcp(let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            let mode = tls == .disable ? "" : "?sslmode=\(tls.rawValue)"
            return "postgresql://\(who)\(secret)@\(shown):\(port)/\(database)\(mode)"
        case .socket(let path):
            let folder = (path as NSString).deletingLastPathComponent
            let port = (path as NSString).pathExtension
            return "postgresql://\(who)\(secret)@:\(port)/\(database)?host=\(folder)"
        }
    }
}
