import Logging
import NIOSSL
import PostgresNIO
import SLAConfig

extension PostgresLocation {
    /// Opens one connection to the server, with TLS as `sslmode` says and the application name
    /// set; `id` tells connections apart in postgres-nio's log metadata.
    public func connect(id: Int = 0, logger: Logger) async throws -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: user, password: password, database: database,
                tls: try tlsSetting())
        case .socket(let path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        }
        if let applicationName {
            configuration.options.additionalStartupParameters.append(("application_name", applicationName))
        }
        return try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
    }

    private func tlsSetting() throws -> PostgresConnection.Configuration.TLS {
        guard tls != .disable else { return .disable }
        var settings = TLSConfiguration.makeClientConfiguration()
        // libpq's prefer and require encrypt without checking who answers; verify-full checks
        // the chain against the system's roots and the host name.
        if tls != .verifyFull { settings.certificateVerification = .none }
        let context = try NIOSSLContext(configuration: settings)
        return tls == .prefer ? .prefer(context) : .require(context)
    }
}
