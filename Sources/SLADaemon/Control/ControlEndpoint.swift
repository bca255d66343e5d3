import Foundation
import SLAConfig
import SLAControl
import SLAStore

#if canImport(Glibc)
import Glibc
#endif

/// Binds the control socket of a configuration (or adopts the one systemd passed) and serves
/// it with the engine loop behind it.
enum ControlEndpoint {
    /// A server answering for `loop` on `path`, or on the `activated` descriptor.
    static func serve(loop: EngineLoop, reader: any DaemonStore, path: String, activated: Int32?) async throws
        -> ControlServer
    {
        let metrics = loop.metrics
        return try await serve(
            control: loop.config.control,
            responder: SladResponder(board: loop.board, mailbox: loop.mailbox, metrics: metrics, reader: reader),
            path: path, activated: activated,
            observe: { route, status in metrics.answered(route: route, status: status) })
    }

    /// A server answering through `responder` on `path` (or on the `activated` descriptor),
    /// with the access rules and limits of `control`.
    static func serve(
        control c: ControlConfig, responder: any ControlResponder, path: String, activated: Int32?,
        observe: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> ControlServer {
        var limits = ControlLimits()
        limits.maxConnections = c.maxConnections
        limits.maxBodyBytes = c.maxBodyBytes
        limits.requestTimeoutMilliseconds = c.requestTimeoutMilliseconds
        limits.idleTimeoutMilliseconds = c.idleTimeoutMilliseconds
        let policy = AccessPolicy(
            daemonUID: geteuid(), statusGID: c.statusGroup.flatMap(AccessPolicy.groupID),
            adminGID: c.adminGroup.flatMap(AccessPolicy.groupID), statusGroup: c.statusGroup,
            adminGroup: c.adminGroup)
        let server = ControlServer(
            policy: policy, limits: limits, responder: responder,
            threads: max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)), observe: observe)
        // Socket activation: systemd made the socket (mode, group, path) and keeps it across restarts.
        if let activated {
            try await server.adopt(descriptor: activated)
            return server
        }
        // A bare file name (`--socket slad.sock`) lives in the working folder, which exists.
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        if someoneServes(path) {
            throw ControlServerError("another process serves \(path) (a second slad?)")
        }
        try await server.bind(path: path, mode: c.socketMode, groupID: policy.statusGID)
        return server
    }

    /// A TCP listener serving one route to anyone who connects, with no peer credentials to
    /// ask: `/metrics` for Prometheus (`metrics.listen`, no body), `POST /v1/alertmanager` for
    /// Alertmanager (`alertmanager.listen`, with its bearer token when one is configured).
    static func serveTCP(
        loop: EngineLoop, reader: any DaemonStore, host: String, port: Int, route: String, maxBodyBytes: Int,
        token: String? = nil
    ) async throws -> ControlServer {
        var policy = AccessPolicy(daemonUID: geteuid(), statusGID: nil, adminGID: nil)
        policy.openRoutes = [route]
        policy.bearerToken = token
        var limits = ControlLimits()
        limits.maxConnections = 64
        limits.maxBodyBytes = maxBodyBytes
        let metrics = loop.metrics
        let server = ControlServer(
            policy: policy, limits: limits,
            responder: SladResponder(board: loop.board, mailbox: loop.mailbox, metrics: metrics, reader: reader),
            observe: { route, status in metrics.answered(route: route, status: status) })
        try await server.bind(host: host, port: port)
        return server
    }

    /// Whether a live server answers on `path` (a stale socket file refuses the connection).
    static func someoneServes(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(107)) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}
