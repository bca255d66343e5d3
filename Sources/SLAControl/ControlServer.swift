import NIOCore
import NIOHTTP1
import NIOPosix
import SLAAPI
import SLACore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Bounds that keep one client from starving the others.
public struct ControlLimits: Sendable {
    /// Connections held at once; one more is answered 503 and closed (root and the admin group:
    /// only once the reserve is used up too).
    public var maxConnections = 16_384
    /// Connections beyond `maxConnections` kept for root and the admin group.
    public var reservedConnections = 64
    /// Largest request body (`POST /v1/events`); a larger one is answered 413 and the connection closed.
    public var maxBodyBytes = 16 << 20
    /// From a request's first byte to its last (head and body); a slower request is answered 408.
    public var requestTimeoutMilliseconds: Int64 = 10_000
    /// How long a connection may sit between requests before it is closed.
    public var idleTimeoutMilliseconds: Int64 = 60_000

    /// The defaults.
    public init() {}
}

/// A request that passed routing and access checks.
public struct ControlRequest: Sendable {
    /// What is asked.
    public var route: Route
    /// Body bytes.
    public var body: [UInt8]
    /// Who sent it (SO_PEERCRED).
    public var peer: PeerCredentials

    /// A request.
    public init(route: Route, body: [UInt8], peer: PeerCredentials) {
        self.route = route
        self.body = body
        self.peer = peer
    }
}

/// An answer: status, content type and body bytes.
public struct ControlResponse: Sendable {
    /// HTTP status code.
    public var status: Int
    /// Media type of the body.
    public var contentType: String
    /// Body bytes.
    public var body: [UInt8]

    /// An answer.
    public init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// A JSON document.
    public static func json(_ value: some Encodable, status: Int = 200) -> ControlResponse {
        ControlResponse(status: status, contentType: "application/json", body: APIJSON.encode(value))
    }

    /// A JSON error.
    public static func error(_ e: RouteError) -> ControlResponse { json(e.error, status: e.status) }
}

/// The daemon's side: answers routed, authorised requests. `reply` may be called
/// from any thread, once.
public protocol ControlResponder: Sendable {
    /// Answers `request`.
    func respond(to request: ControlRequest, reply: @escaping @Sendable (ControlResponse) -> Void)
}

/// The control socket: HTTP/1.1 on an `AF_UNIX` stream socket, on SwiftNIO event loops.
///
/// Routing, access (SO_PEERCRED) and limits are decided here, on the event
/// loop, before the daemon sees a request; a slow client costs a file
/// descriptor and a timer, never a thread.
public final class ControlServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let settings: Settings
    /// Connections open now.
    private let open = Counter()

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    struct Settings: Sendable {
        let policy: AccessPolicy
        let limits: ControlLimits
        let responder: any ControlResponder
        let observe: @Sendable (String, Int) -> Void
    }

    /// A server answering through `responder`; `observe` hears each answer (route name, status) for metrics.
    public init(
        policy: AccessPolicy, limits: ControlLimits, responder: any ControlResponder, threads: Int = 1,
        observe: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        settings = Settings(policy: policy, limits: limits, responder: responder, observe: observe)
    }

    /// Binds `path` (replacing a stale socket file) with the given mode and group.
    ///
    /// The socket is bound in a private folder (mode 0700) beside `path`, given its mode and
    /// group there, then renamed into place: no one outside the intended group can connect in
    /// between, and the process's umask is left alone (other threads may be creating files).
    public func bind(path: String, mode: UInt32, groupID: UInt32?) async throws {
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var template = Array(((folder.isEmpty ? "/" : folder) + "/.slad-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw ControlServerError(
                "cannot create a private folder beside \(path): \(String(cString: strerror(errno)))")
        }
        let privateFolder = String(cString: made)
        let temporary = privateFolder + "/s"
        defer {
            unlink(temporary)
            rmdir(privateFolder)
        }
        let bound = try await bootstrap().bind(unixDomainSocketPath: temporary).get()
        func fail(_ what: String) async -> ControlServerError {
            let reason = String(cString: strerror(errno))
            try? await bound.close()
            return ControlServerError("\(what): \(reason)")
        }
        if let groupID, chown(temporary, UInt32.max, groupID) != 0 {
            throw await fail("cannot give \(path) to group \(groupID)")
        }
        if chmod(temporary, mode_t(mode)) != 0 { throw await fail("cannot chmod \(path)") }
        if rename(temporary, path) != 0 { throw await fail("cannot move the socket to \(path)") }
        channel.withLock { $0 = bound }
    }

    /// Binds a TCP address (the Prometheus listener, `metrics.listen`).
    public func bind(host: String, port: Int) async throws {
        let bound = try await bootstrap().bind(host: host, port: port).get()
        channel.withLock { $0 = bound }
    }

    /// Serves on a listening socket someone else bound (systemd socket activation).
    public func adopt(descriptor: Int32) async throws {
        let adopted = try await bootstrap().withBoundSocket(descriptor).get()
        channel.withLock { $0 = adopted }
    }

    /// Stops listening, closes every connection and the event loops.
    public func stop() async {
        let listening = channel.withLock { c in
            defer { c = nil }
            return c
        }
        try? await listening?.close()
        try? await group.shutdownGracefully()
    }

    private func bootstrap() -> ServerBootstrap {
        let settings = settings
        let open = self.open
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            // Answers a client does not read stay in this much memory at most: past the high mark
            // the connection's requests are no longer read (BackPressureHandler) until it drains.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
            .childChannelInitializer { channel in
                let now = open.value.wrappingAdd(1, ordering: .relaxed).newValue
                channel.closeFuture.whenComplete { _ in open.value.wrappingSubtract(1, ordering: .relaxed) }
                // Over the limit the connection still gets a clear answer (503) to its first request,
                // then is closed; it holds its slot for at most a second. Root and the admin group
                // are served past the limit, up to a reserve, so that a crowd of clients never
                // locks out the operator who has to look into it.
                let load = ControlHTTPHandler.Load(
                    overLimit: now > settings.limits.maxConnections,
                    beyondReserve: now > settings.limits.maxConnections + settings.limits.reservedConnections)
                return Self.peer(of: channel).flatMapThrowing { peer in
                    let sync = channel.pipeline.syncOperations
                    let front = RequestStartNotifier()
                    let http = ControlHTTPHandler(settings: settings, peer: peer, front: front, load: load)
                    front.http = http
                    try sync.addHandler(BackPressureHandler())
                    try sync.addHandler(front)
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(http)
                }
            }
    }

    /// The kernel's word on who connected. Kept out of line: NIO's note on libc types in generic calls.
    /// Nil when the kernel would not say: such a peer is refused every route.
    static func peer(of channel: any Channel) -> EventLoopFuture<PeerCredentials?> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let future: EventLoopFuture<KernelCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { Optional(PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid)) }
            .recover { _ in nil }
    }
}

/// `struct ucred` of <sys/socket.h> (hidden behind _GNU_SOURCE, so not imported): pid, uid, gid.
struct KernelCredentials: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Binding or preparing the socket failed.
public struct ControlServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// The first handler of a connection: tells the HTTP handler when request bytes arrive (so it
/// can tell a connection that idles between requests from one that trickles a request in), and
/// writes raw bytes past the HTTP handlers when a request is cut off before its head was
/// even parsed (the HTTP encoder only answers parsed requests).
/// Inbound only: its context can still write toward the socket, and answers need not pass it.
final class RequestStartNotifier: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var context: ChannelHandlerContext?
    /// Told directly, on the same event loop: a user event per read would be boxed and
    /// type-checked by every HTTP handler in between.
    weak var http: ControlHTTPHandler?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        http?.requestBytesArrived()
        context.fireChannelRead(data)
    }

    /// Writes a complete HTTP response as bytes, then closes the connection.
    func answerRawAndClose(_ response: ControlResponse) {
        guard let context else { return }
        let reason = HTTPResponseStatus(statusCode: response.status).reasonPhrase
        var buffer = context.channel.allocator.buffer(capacity: 160 + response.body.count)
        buffer.writeString(
            "HTTP/1.1 \(response.status) \(reason)\r\ncontent-type: \(response.contentType)\r\ncontent-length: \(response.body.count)\r\nconnection: close\r\n\r\n"
        )
        buffer.writeBytes(response.body)
        let ctx = context
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in ctx.close(promise: nil) }
    }
}

/// One connection: collects a request within the limits, checks access, hands it
/// to the responder, writes the answer, then waits for the next request.
final class ControlHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Bytes of a request arrived, its head has not.
        case started
        /// Head parsed; body being collected.
        case receiving(head: HTTPRequestHead, route: Route, body: ByteBuffer?)
        /// Head parsed but the request is refused; its body is read and dropped.
        case refusing(head: HTTPRequestHead, error: RouteError)
        /// Waiting for the responder.
        case responding(keepAlive: Bool)
        /// An answer with `connection: close` is out; nothing more is read.
        case closing
    }

    private let settings: ControlServer.Settings
    private let peer: PeerCredentials?
    private let front: RequestStartNotifier
    private let overLimit: Bool
    private let grants: (read: Bool, write: Bool)
    private var state = State.idle
    /// One timer per connection, never rescheduled per request: requests only record times,
    /// and the timer, when it fires, acts or re-arms for the deadline that now applies.
    private var timer: Scheduled<Void>?
    private var lastActivity = NIODeadline.now()
    private var requestStart = NIODeadline.now()
    private var context: ChannelHandlerContext?
    private var routeName = "unrouted"

    /// How full the server was when the connection came.
    struct Load {
        /// More connections than `maxConnections`.
        var overLimit: Bool
        /// More than `maxConnections` plus the reserve for root and the admin group.
        var beyondReserve: Bool
    }

    init(settings: ControlServer.Settings, peer: PeerCredentials?, front: RequestStartNotifier, load: Load) {
        self.settings = settings
        self.peer = peer
        self.front = front
        var grants: (read: Bool, write: Bool) = (false, false)
        if let peer {
            let groups = peer.uid == 0 ? [] : AccessPolicy.groups(of: peer.uid, primary: peer.gid)
            grants = settings.policy.grants(peer, groups: groups)
        }
        self.grants = grants
        let privileged = peer?.uid == 0 || grants.write
        overLimit = load.beyondReserve || (load.overLimit && !privileged)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        lastActivity = .now()
        arm(context, at: lastActivity + .milliseconds(min(idleLimit, requestLimit)))
    }

    private var idleLimit: Int64 { overLimit ? 1000 : settings.limits.idleTimeoutMilliseconds }
    private var requestLimit: Int64 { overLimit ? 1000 : settings.limits.requestTimeoutMilliseconds }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        state = .closing
        context.fireChannelInactive()
    }

    /// Request bytes arrived (called by the connection's first handler).
    func requestBytesArrived() {
        if case .idle = state {
            state = .started
            requestStart = .now()
        }
    }

    private func arm(_ context: ChannelHandlerContext, at deadline: NIODeadline) {
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) { bound.value.timedOut() }
    }

    private var timeout: RouteError {
        RouteError(
            408, "request_timeout",
            "the request did not arrive within \(settings.limits.requestTimeoutMilliseconds / 1000) s")
    }

    private func timedOut() {
        guard let context else { return }
        let now = NIODeadline.now()
        // The deadline that applies now; a request always has at least requestLimit from its start,
        // so re-arming at most requestLimit ahead never fires late.
        let deadline: NIODeadline
        switch state {
        case .idle: deadline = lastActivity + .milliseconds(idleLimit)
        case .started, .receiving, .refusing: deadline = requestStart + .milliseconds(requestLimit)
        case .responding, .closing: deadline = .distantFuture
        }
        guard now >= deadline else {
            arm(context, at: min(deadline, now + .milliseconds(requestLimit)))
            return
        }
        switch state {
        case .idle:
            context.close(promise: nil)
        case .started:
            state = .closing
            settings.observe(routeName, 408)
            front.answerRawAndClose(.error(timeout))
        case .receiving, .refusing:
            write(.error(timeout), keepAlive: false, context: context)
        case .responding, .closing:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if case .closing = state { return }
            let routed = Router.route(method: head.method.rawValue, uri: head.uri)
            routeName = (try? routed.get().name) ?? "unrouted"
            if let length = head.headers.first(name: "content-length").flatMap(Int.init),
                length > settings.limits.maxBodyBytes
            {
                tooLarge(context)
                return
            }
            switch routed {
            case .failure(let e) where !overLimit:
                state = .refusing(head: head, error: e)
            case .failure:
                state = .refusing(head: head, error: refusal(.status)!)
            case .success(let route):
                if let refusal = refusal(route, authorization: head.headers.first(name: "authorization")) {
                    state = .refusing(head: head, error: refusal)
                } else {
                    state = .receiving(head: head, route: route, body: nil)
                }
            }
        case .body(var chunk):
            switch state {
            case .receiving(let head, let route, let collected):
                guard (collected?.readableBytes ?? 0) + chunk.readableBytes <= settings.limits.maxBodyBytes else {
                    tooLarge(context)
                    return
                }
                guard var body = collected else {
                    state = .receiving(head: head, route: route, body: chunk)
                    return
                }
                state = .idle  // drop the reference so the append does not copy
                body.writeBuffer(&chunk)
                state = .receiving(head: head, route: route, body: body)
            default:
                break
            }
        case .end:
            switch state {
            case .refusing(let head, let error):
                let keepAlive = head.isKeepAlive && !overLimit
                state = .responding(keepAlive: keepAlive)
                write(.error(error), keepAlive: keepAlive, context: context)
            case .receiving(let head, let route, let body):
                let keepAlive = head.isKeepAlive
                state = .responding(keepAlive: keepAlive)
                guard let peer else { return }
                let request = ControlRequest(route: route, body: body.map { Array(buffer: $0) } ?? [], peer: peer)
                let loop = context.eventLoop
                let bound = NIOLoopBound(self, eventLoop: loop)
                settings.responder.respond(to: request) { response in
                    if loop.inEventLoop {
                        bound.value.answer(response, keepAlive: keepAlive)
                    } else {
                        loop.execute { bound.value.answer(response, keepAlive: keepAlive) }
                    }
                }
            default:
                break
            }
        }
    }

    /// Access is checked on the head, before any body is read.
    private func refusal(_ route: Route, authorization: String? = nil) -> RouteError? {
        if overLimit {
            return RouteError(
                503, "too_many_connections",
                "slad holds \(settings.limits.maxConnections) control connections (control.max_connections); try again")
        }
        if let open = settings.policy.openRoutes {
            guard open.contains(route.name) else {
                let served = open.sorted().map { $0 == "metrics" ? "GET /metrics" : "POST /v1/\($0)" }
                return RouteError(404, "not_found", "this listener serves \(served.joined(separator: " and ")) only")
            }
            guard route.access == .write, let token = settings.policy.bearerToken else { return nil }
            // Compared in constant time: the answer must not tell how much of a guess was right.
            let given = Array((authorization ?? "").utf8)
            let wanted = Array("Bearer \(token)".utf8)
            var difference = given.count ^ wanted.count
            for k in 0..<wanted.count { difference |= Int(wanted[k] ^ (k < given.count ? given[k] : 0)) }
            return difference == 0
                ? nil
                : RouteError(401, "unauthorized", "this listener wants Authorization: Bearer (alertmanager.token_file)")
        }
        guard let peer else {
            return RouteError(403, "forbidden", "slad could not read the peer's credentials (SO_PEERCRED)")
        }
        let allowed = route.access == .read ? grants.read : grants.write
        return allowed ? nil : RouteError(403, "forbidden", settings.policy.refusal(route.access, peer: peer))
    }

    private func tooLarge(_ context: ChannelHandlerContext) {
        let e = RouteError(
            413, "body_too_large",
            "the request body exceeds \(settings.limits.maxBodyBytes) bytes; send events in smaller pieces")
        write(.error(e), keepAlive: false, context: context)
    }

    private func answer(_ response: ControlResponse, keepAlive: Bool) {
        guard let context, case .responding = state else { return }
        write(response, keepAlive: keepAlive, context: context)
    }

    private func write(_ response: ControlResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        settings.observe(routeName, response.status)
        state = keepAlive ? .responding(keepAlive: true) : .closing
        var headers = HTTPHeaders()
        headers.reserveCapacity(3)
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.count))
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(
            wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        guard keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        // Idle before the end goes out: the pipelining handler holds a next request back until
        // this end passes it, and may hand it to us from inside this call.
        state = .idle
        lastActivity = .now()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
