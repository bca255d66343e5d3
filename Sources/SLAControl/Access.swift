#if canImport(Glibc)
import Glibc
#endif

/// What a route needs.
public enum Access: String, Sendable {
    /// Status, contracts, incidents, breaches, metrics.
    case read
    /// Reload, pushing events.
    case write
}

/// Who is on the other end of a connection, as the kernel says (`SO_PEERCRED`), never as the request says.
public struct PeerCredentials: Sendable, Hashable {
    /// Process id.
    public var pid: Int32
    /// User id.
    public var uid: UInt32
    /// Primary group id.
    public var gid: UInt32

    /// Credentials.
    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Who may read and who may write: root and the daemon's own user read;
/// members of the status group read; root and members of the admin group write
/// (and read: an admin who may reload may also look).
public struct AccessPolicy: Sendable {
    /// The daemon's effective uid.
    public var daemonUID: UInt32
    /// `status_group`'s gid, if configured.
    public var statusGID: UInt32?
    /// `admin_group`'s gid, if configured.
    public var adminGID: UInt32?
    /// The group names, for messages.
    public var statusGroup: String?
    /// The admin group's name, for messages.
    public var adminGroup: String?
    /// A TCP listener (`metrics.listen`, `alertmanager.listen`) serves these routes only, with
    /// no peer credentials to ask (nil: the control socket, every route, by credentials).
    public var openRoutes: Set<String>?
    /// The bearer token a TCP listener's write routes require (`Authorization: Bearer …`).
    public var bearerToken: String?

    /// A policy.
    public init(
        daemonUID: UInt32, statusGID: UInt32?, adminGID: UInt32?, statusGroup: String? = nil,
        adminGroup: String? = nil
    ) {
        self.daemonUID = daemonUID
        self.statusGID = statusGID
        self.adminGID = adminGID
        self.statusGroup = statusGroup
        self.adminGroup = adminGroup
    }

    /// What `peer` may do, given its groups (primary and supplementary).
    public func grants(_ peer: PeerCredentials, groups: Set<UInt32>) -> (read: Bool, write: Bool) {
        if peer.uid == 0 { return (true, true) }
        let admin = adminGID.map { groups.contains($0) } ?? false
        let status = statusGID.map { groups.contains($0) } ?? false
        return (admin || status || peer.uid == daemonUID, admin)
    }

    /// The 403 message for a peer lacking `access`.
    public func refusal(_ access: Access, peer: PeerCredentials) -> String {
        let who = Self.userName(peer.uid).map { "user \($0) (uid \(peer.uid))" } ?? "uid \(peer.uid)"
        switch access {
        case .read:
            let group = statusGroup.map { "members of \($0)" } ?? "no group (status_group is not set)"
            return "\(who) may not read slad's state: allowed are root, slad's own user and \(group)"
        case .write:
            let group = adminGroup.map { "members of \($0)" } ?? "no group (admin_group is not set)"
            return "\(who) may not change slad (reload, events): allowed are root and \(group)"
        }
    }

    /// A user's groups: its primary group and every group that lists it (getgrouplist).
    public static func groups(of uid: UInt32, primary gid: UInt32) -> Set<UInt32> {
        var out: Set<UInt32> = [gid]
        guard let name = userName(uid) else { return out }
        var count: Int32 = 64
        while true {
            var list = [gid_t](repeating: 0, count: Int(count))
            var n = count
            if getgrouplist(name, gid, &list, &n) >= 0 {
                out.formUnion(list.prefix(Int(n)))
                return out
            }
            guard n > count else { return out }
            count = n
        }
    }

    /// The login name of `uid`, if it has one.
    public static func userName(_ uid: UInt32) -> String? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwuid_r(uid, &pw, &buffer, buffer.count, &result) == 0, result != nil, let name = pw.pw_name else {
            return nil
        }
        return String(cString: name)
    }

    /// The gid of group `name`, nil when there is no such group.
    public static func groupID(_ name: String) -> UInt32? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 65_536)
        guard getgrnam_r(name, &gr, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return gr.gr_gid
    }
}
