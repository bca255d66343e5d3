import SLAAPI
import SLAControl
import SLACore

/// Answers every routed request at once, as the daemon's fast routes do.
struct Echo: ControlResponder {
    func respond(to request: ControlRequest, reply: @escaping @Sendable (ControlResponse) -> Void) {
        reply(ControlResponse(status: 200, contentType: "text/plain", body: Array(request.route.name.utf8)))
    }
}

let policy = AccessPolicy(daemonUID: 0, statusGID: nil, adminGID: nil, statusGroup: nil, adminGroup: nil)

/// Raw bytes on the control socket, through the real pipeline (HTTP parsing, limits, routing,
/// access), as root: an answer or a closed connection, never a crash.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var limits = ControlLimits()
    limits.maxBodyBytes = 4096
    _ = ControlServer.answer(
        raw: Array(UnsafeBufferPointer(start: data, count: size)), peer: PeerCredentials(pid: 1, uid: 0, gid: 0),
        policy: policy, limits: limits, responder: Echo())
    return 0
}
