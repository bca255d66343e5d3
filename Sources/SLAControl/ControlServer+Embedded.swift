import NIOCore
import NIOEmbedded
import NIOHTTP1

extension ControlServer {
    /// Runs raw request bytes through the pipeline every connection gets (HTTP parsing, limits,
    /// routing, the access check for `peer`, the answer), on an embedded channel: no socket, no
    /// threads. Returns the bytes written back, in order. For the fuzz target and tests; the
    /// responder must answer on the calling thread.
    public static func answer(
        raw: [UInt8], peer: PeerCredentials, policy: AccessPolicy, limits: ControlLimits = ControlLimits(),
        responder: any ControlResponder
    ) -> [UInt8] {
        let channel = EmbeddedChannel()
        let settings = Settings(policy: policy, limits: limits, responder: responder, observe: { _, _ in })
        let front = RequestStartNotifier()
        let http = ControlHTTPHandler(
            settings: settings, peer: peer, front: front,
            load: ControlHTTPHandler.Load(overLimit: false, beyondReserve: false))
        front.http = http
        var out: [UInt8] = []
        do {
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(BackPressureHandler())
            try sync.addHandler(front)
            try sync.configureHTTPServerPipeline(withErrorHandling: true)
            try sync.addHandler(http)
            try channel.connect(to: SocketAddress(unixDomainSocketPath: "/fuzz")).wait()
            try channel.writeInbound(ByteBuffer(bytes: raw))
        } catch {
            // A request the pipeline rejects with an error is a closed connection: what was
            // written before it is the answer.
        }
        channel.embeddedEventLoop.run()
        while let part = try? channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let b) = part { out += b.readableBytesView }
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        return out
    }
}
