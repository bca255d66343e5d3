import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real systemd as PID 1 in private namespaces over the machine's own files
/// (Scripts/systemd-pid1.sh): /usr, /etc and /var are overlays whose changes stay in a
/// scratch folder, /run, /tmp and the journal are fresh. Commands run inside with `nsenter`.
final class SystemdMachine {
    let scratch: URL
    private let unshare: Process
    /// PID 1 of the namespace, as the machine sees it.
    private(set) var pid1: Int32 = 0
    /// Every cgroup folder that existed before the boot: the ones systemd adds are removed afterwards.
    private let cgroupsBefore: Set<String>

    init() throws {
        scratch = try makeTemporaryDirectory("slad-pid1")
        cgroupsBefore = Self.cgroupFolders()
        unshare = Process()
        unshare.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        unshare.arguments = [
            "--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--propagation", "private", "--uts", "--ipc",
            "--net", "--cgroup", "--mount-proc",
            repositoryRoot.appendingPathComponent("Tests/SladTests/Scripts/systemd-pid1.sh").path, scratch.path,
            repositoryRoot.path,
            binaryFolder,
        ]
        let log = scratch.appendingPathComponent("boot.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        unshare.standardOutput = try FileHandle(forWritingTo: log)
        unshare.standardError = try FileHandle(forWritingTo: log)
        try unshare.run()
        let me = unshare.processIdentifier
        let booted = waitUntil(60) {
            let children = (try? String(contentsOfFile: "/proc/\(me)/task/\(me)/children", encoding: .utf8)) ?? ""
            guard let child = children.split(separator: " ").first.flatMap({ Int32($0) }) else { return false }
            let comm = (try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8)) ?? ""
            guard comm.hasPrefix("systemd") else { return false }
            pid1 = child
            let state = (try? run("systemctl is-system-running"))?.stdout ?? ""
            return state.hasPrefix("running") || state.hasPrefix("degraded")
        }
        if !booted {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            stop()
            throw ScenarioSyntaxError(description: "systemd as PID 1 did not boot within 60 s:\n\(text)")
        }
    }

    /// Runs a bash script inside every namespace of the machine.
    @discardableResult
    func run(_ script: String) throws -> Ran {
        try runProgram(["nsenter", "-t", String(pid1), "-a", "bash", "-c", script])
    }

    /// Starts a long-running program inside; it dies with the machine.
    func spawn(_ script: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        p.arguments = ["-t", String(pid1), "-a", "bash", "-c", script]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
    }

    /// The journal's entries matching `matches` (journalctl's FIELD=value terms), as JSON objects.
    func journal(_ matches: String) throws -> [[String: Any]] {
        try run("journalctl -o json --no-pager \(matches)").stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// A unit's log as `journalctl -u UNIT -o cat` shows it (systemd's lines about the unit included).
    func unitLog(_ unit: String) throws -> String {
        try run("journalctl -u \(unit) --no-pager -o cat").stdout
    }

    /// A unit's properties (`systemctl show -p …`).
    func show(_ unit: String, _ properties: [String]) throws -> [String: String] {
        let out = try run("systemctl show \(unit) " + properties.map { "-p \($0)" }.joined(separator: " ")).stdout
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            result[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return result
    }

    /// Kills PID 1 (and with it the namespace), then removes the cgroup folders systemd made
    /// (a folder goes once the last process in it has been reaped: retried for a while).
    func stop() {
        if unshare.isRunning {
            kill(unshare.processIdentifier, SIGKILL)
            unshare.waitUntilExit()
        }
        var left = Self.cgroupFolders().subtracting(cgroupsBefore)
        _ = waitUntil(30) {
            for folder in left.sorted(by: { $0.count > $1.count }) where rmdir(folder) == 0 || errno == ENOENT {
                left.remove(folder)
            }
            return left.isEmpty
        }
        if !left.isEmpty { print("systemd test: cgroup folders left behind: \(left.sorted())") }
        try? FileManager.default.removeItem(at: scratch)
    }

    private static func cgroupFolders() -> Set<String> {
        let found = (try? runProgram(["find", "/sys/fs/cgroup", "-mindepth", "1", "-type", "d"]))?.stdout ?? ""
        return Set(found.split(separator: "\n").map(String.init))
    }
}

@Suite("systemd as PID 1: make install, socket activation, journal, reload, watchdog, stop", .serialized)
struct SystemdEndToEndTests {
    /// One incident event line for the installed example contract acme-gold (P1: reaction 15m, 24x7),
    /// opened an hour ago: its reaction is breached the moment slad reads it.
    static func openedLine(_ incident: String) -> String {
        let f = ISO8601DateFormatter()
        let time = f.string(from: Date().addingTimeInterval(-3600))
        return #"{"id":"\#(incident)-open","time":"\#(time)","type":"incident.opened","incident":"\#(incident)","#
            + #""contract":"acme-gold","service":"portal","priority":"P1"}"#
    }

    @Test(
        "installed as documented, slad.socket + slad.service run under systemd: breaches reach the journal with _SYSTEMD_UNIT, the socket admits slad-status and refuses others, a broken reload keeps the old contracts, the watchdog restarts a stopped slad without losing events or notifications, stop is clean"
    )
    func endToEnd() throws {
        let machine = try SystemdMachine()
        defer { machine.stop() }
        let repo = repositoryRoot.path

        // A short watchdog, so the test does not wait 30 s; everything else is the shipped unit.
        try machine.run(
            """
            mkdir -p /etc/systemd/system/slad.service.d
            printf '[Service]\\nWatchdogSec=5s\\n' >/etc/systemd/system/slad.service.d/20-test-watchdog.conf
            """)
        // A webhook receiver inside the machine's network namespace, where the installed slad.yaml posts.
        try machine.spawn(
            "exec python3 \(repo)/Tests/SladTests/Scripts/webhook_receiver.py --port 9000 --log /run/hooks.jsonl")

        // The README's path: make install, the example set-up copied in as an admin would (the
        // installed /etc/slad prices nothing; the copy is valid whatever the date), its webhooks
        // pointed at the receiver, then systemctl enable --now slad.
        let examples = "/usr/share/doc/slad/examples"
        let install = try machine.run(
            """
            cd \(repo) && make install BIN_DIR=\(binaryFolder) && \
            sed '/^valid:/d' \(examples)/contracts.d/acme-gold.yaml >/etc/slad/contracts.d/acme-gold.yaml && \
            cp \(examples)/calendars/* /etc/slad/calendars/ && \
            cat >>/etc/slad/slad.yaml <<'EOF'
            webhooks:
              ops: { url: "http://127.0.0.1:9000/hooks/ops", secret_credential: ops.key, timeout: 5s, max_age: 24h }
              management: { url: "http://127.0.0.1:9000/hooks/management", kinds: [escalation, breach.retracted] }
              finance: { url: "http://127.0.0.1:9000/hooks/finance", kinds: [breach, breach.retracted] }
            EOF
            systemctl enable --now slad 2>&1
            """)
        try #require(install.status == 0, "make install / enable:\n\(install.stdout)\(install.stderr)")
        for path in [
            "/usr/bin/slad", "/usr/bin/slactl", "/usr/lib/systemd/system/slad.service",
            "/usr/lib/systemd/system/slad.socket", "/usr/share/man/man1/slad.1.gz", "/usr/share/man/man1/slactl.1.gz",
            "/etc/slad/slad.yaml", "/etc/slad/contracts.d/acme-gold.yaml", "/etc/slad/secrets/ops.key",
            "/usr/lib/systemd/catalog/slad.catalog",
        ] {
            #expect(try machine.run("test -e \(path)").status == 0, "\(path) not installed")
        }
        #expect(try machine.run("getent passwd slad && getent group slad-status slad-admin").status == 0)
        let active = try machine.run("systemctl is-active slad.socket slad.service")
        let startLog = try machine.run("journalctl -u slad --no-pager -n 30").stdout
        try #require(active.stdout == "active\nactive\n", "\(active.stdout)\(startLog)")
        let status = try machine.show("slad.service", ["StatusText", "MainPID", "NRestarts"])
        #expect(status["StatusText"]?.contains(" open, ") == true, "\(status)")
        let firstPID = status["MainPID"] ?? ""

        // A breach: the journal entry comes from the unit, with the SLA_* fields.
        try machine.run("echo '\(Self.openedLine("E2E-1"))' >>/var/log/incidents/e2e.jsonl")
        func breaches() -> Set<String> {
            Set(
                ((try? machine.journal("_SYSTEMD_UNIT=slad.service SLA_KIND=breach")) ?? []).compactMap {
                    $0["SLA_INCIDENT"] as? String
                })
        }
        #expect(waitUntil(30) { breaches().contains("E2E-1") }, "no breach in the journal")
        let breach = try #require(
            try machine.journal("_SYSTEMD_UNIT=slad.service SLA_INCIDENT=E2E-1 SLA_KIND=breach").first)
        #expect(breach["SLA_CONTRACT"] as? String == "acme-gold")
        #expect(breach["SLA_METRIC"] as? String == "reaction")
        #expect(breach["SLA_PRIORITY"] as? String == "P1")
        #expect(breach["PRIORITY"] as? String == "3")
        #expect(breach["_SYSTEMD_UNIT"] as? String == "slad.service")

        // The activated socket: a member of slad-status reads, an outsider is refused by the file mode.
        try machine.run("useradd -M -G slad-status alice && useradd -M bob")
        let alice = try machine.run("setpriv --reuid alice --regid alice --init-groups slactl status")
        #expect(alice.status == 0, "\(alice.stdout)\(alice.stderr)")
        #expect(alice.stdout.contains("1 breached"), "\(alice.stdout)")
        let bob = try machine.run("setpriv --reuid bob --regid bob --init-groups slactl status")
        #expect(bob.status != 0)
        #expect(bob.stderr.contains("permission denied"), "\(bob.stderr)")
        let socketOwner = try machine.run("stat -c '%a %G' /run/slad/slad.sock").stdout
        #expect(socketOwner == "660 slad-status\n")

        // Reload with a broken contract: the old set stays, and the journal says where and why.
        try machine.run(
            "printf 'id: e2e-new\\ncustomer: [unclosed\\n' >/etc/slad/contracts.d/e2e-new.yaml && systemctl reload slad"
        )
        #expect(
            waitUntil(15) {
                let text = (try? machine.unitLog("slad")) ?? ""
                return text.contains("slad: reload rejected") && text.contains("/etc/slad/contracts.d/e2e-new.yaml:2:")
            })
        #expect(try machine.run("slactl contracts").stdout.contains("e2e-new") == false)
        #expect(try machine.show("slad.service", ["MainPID"])["MainPID"] == firstPID)
        // Fixed, it applies.
        try machine.run(
            "sed 's/^id: acme-gold/id: e2e-new/' /etc/slad/contracts.d/acme-gold.yaml >/etc/slad/contracts.d/e2e-new.yaml && systemctl reload slad"
        )
        #expect(waitUntil(15) { (try? machine.run("slactl contracts").stdout.contains("e2e-new")) == true })

        // SIGSTOP: the engine stops pinging, systemd kills and restarts slad; events written
        // meanwhile are read after the restart, each once, and each breach is notified.
        try machine.run("kill -STOP \(firstPID)")
        let during = ["E2E-2", "E2E-3", "E2E-4"]
        try machine.run(
            during.map { "echo '\(Self.openedLine($0))' >>/var/log/incidents/e2e.jsonl" }.joined(separator: "\n"))
        #expect(
            waitUntil(60) {
                let s = (try? machine.show("slad.service", ["MainPID", "ActiveState", "NRestarts"])) ?? [:]
                return s["ActiveState"] == "active" && s["MainPID"] != firstPID && s["MainPID"] != "0"
                    && (Int(s["NRestarts"] ?? "0") ?? 0) >= 1
            }, "slad was not restarted by the watchdog")
        #expect(try machine.unitLog("slad").contains("Watchdog timeout"))
        #expect(waitUntil(30) { breaches().isSuperset(of: ["E2E-1"] + during) }, "\(breaches())")
        #expect(
            waitUntil(30) {
                let s =
                    (try? machine.run("curl -s --unix-socket /run/slad/slad.sock http://slad/v1/status").stdout) ?? ""
                guard let doc = try? JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any],
                    let incidents = doc["incidents"] as? [String: Int]
                else { return false }
                return doc["events"] as? Int == 4 && incidents["open"] == 4 && incidents["breached"] == 4
            }, "events doubled or lost after the restart")
        // Webhooks, at least once: the ops receiver got a breach for every incident.
        #expect(
            waitUntil(30) {
                let lines = (try? machine.run("cat /run/hooks.jsonl").stdout) ?? ""
                let hooks = lines.split(separator: "\n").compactMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                }
                let delivered = Set(
                    hooks.filter { $0["path"] as? String == "/hooks/ops" && $0["status"] as? Int == 200 }.compactMap {
                        ($0["id"] as? String).flatMap { id in id.hasSuffix("/reaction/breach/100%") ? id : nil }
                    })
                return ["E2E-1", "E2E-2", "E2E-3", "E2E-4"].allSatisfy { i in
                    delivered.contains { $0.hasPrefix(i + "/") }
                }
            }, "\((try? machine.run("cat /run/hooks.jsonl").stdout) ?? "")")

        // A clean stop: STOPPING, offsets saved, exit 0, and the socket unit stays for the next start.
        let stop = try machine.run("systemctl stop slad.service")
        #expect(stop.status == 0, "\(stop.stderr)")
        let stopped = try machine.show("slad.service", ["ActiveState", "Result", "ExecMainStatus"])
        #expect(stopped["ActiveState"] == "inactive", "\(stopped)")
        #expect(stopped["Result"] == "success", "\(stopped)")
        #expect(stopped["ExecMainStatus"] == "0", "\(stopped)")
        #expect(try machine.unitLog("slad").contains("slad: stopped"))
        // The next client starts it again through the socket.
        let again = try machine.run("slactl status")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("4 breached"), "\(again.stdout)")
    }
}
