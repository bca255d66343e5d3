import Foundation
import Testing

@Suite("systemd protocol without systemd: sd_notify datagrams (real daemon)", .serialized)
struct ServiceManagerTests {
    @Test(
        "READY after start, STATUS with counts, WATCHDOG from the loop, RELOADING+MONOTONIC_USEC then READY on SIGHUP, STOPPING on SIGTERM"
    )
    func notifications() throws {
        let world = try ControlWorld()
        defer { try? FileManager.default.removeItem(at: world.work) }
        let socket = world.work.appendingPathComponent("notify.sock").path
        let received = world.work.appendingPathComponent("notify.log")
        let listener = Process()
        listener.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        listener.arguments = [
            repositoryRoot.appendingPathComponent("Tests/SladTests/Scripts/notify_listener.py").path, socket,
            received.path,
        ]
        try listener.run()
        // SIGKILL: children of the test runner may inherit blocked signals.
        defer { kill(listener.processIdentifier, SIGKILL) }
        #expect(
            waitUntil(10) { ((try? String(contentsOf: received, encoding: .utf8)) ?? "").contains("listening") })
        func lines() -> [String] {
            ((try? String(contentsOf: received, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let slad = try startSlad(
            ["run", "--config", world.config.path, "--state", world.state.path],
            stderr: world.work.appendingPathComponent("stderr"),
            environment: ["NOTIFY_SOCKET": socket, "WATCHDOG_USEC": "1000000"])
        #expect(waitUntil(30) { lines().contains { $0.hasPrefix("READY=1|STATUS=") } }, "\(lines())")
        // Ready means serving: the control socket answers at once.
        #expect(try curl(world.socket, "/v1/status").status == 200)
        #expect(waitUntil(10) { lines().filter { $0 == "WATCHDOG=1" }.count >= 3 }, "\(lines())")
        #expect(lines().contains { $0.hasPrefix("STATUS=") && $0.contains(" open, ") }, "\(lines())")
        kill(slad.processIdentifier, SIGHUP)
        #expect(
            waitUntil(10) {
                let l = lines()
                guard let r = l.lastIndex(where: { $0.hasPrefix("RELOADING=1|MONOTONIC_USEC=") }) else { return false }
                return l[(r + 1)...].contains { $0.hasPrefix("READY=1") }
            }, "\(lines())")
        slad.terminate()
        slad.waitUntilExit()
        #expect(slad.terminationStatus == 0)
        #expect(lines().contains { $0.hasPrefix("STOPPING=1") }, "\(lines())")
    }
}
