import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The PostgreSQL test harness")
struct HarnessTests {
    /// NIO opens sockets without close-on-exec, and a cluster's server lives on after the test
    /// that started it: if it inherited the process's descriptors, a daemon tested beside it would
    /// seem to serve its control socket after closing it (seen in the full suite).
    @Test("a cluster's server holds none of the test process's descriptors")
    func serverInheritsNothing() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener > 2)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        #expect(bound)
        let cluster = try await PostgresCluster.start()
        close(listener)
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
        }
        let reason = errno
        close(client)
        await cluster.stop()
        #expect(!connected, "the listener closed here was still accepting: the cluster's server holds it")
        #expect(connected || reason == ECONNREFUSED)
    }
}
