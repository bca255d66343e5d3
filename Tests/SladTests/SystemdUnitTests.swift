import Foundation
import Testing

@Suite("systemd units (real systemd-analyze)")
struct SystemdUnitTests {
    static let units = repositoryRoot.appendingPathComponent("systemd")

    @Test("systemd-analyze verify is clean for slad.service and slad.socket, with slad at /usr/bin/slad")
    func verify() throws {
        // verify checks that ExecStart= exists: a private mount namespace lays an overlay on
        // /usr/bin holding the built binary, so the machine's /usr/bin is never touched.
        let script = """
            set -e
            scratch=$(mktemp -d)
            mkdir "$scratch/upper" "$scratch/work"
            mount -t overlay overlay -o lowerdir=/usr/bin,upperdir="$scratch/upper",workdir="$scratch/work" /usr/bin
            cp "\(sladBinary)" /usr/bin/slad
            systemd-analyze verify --man=no "\(Self.units.path)/slad.service" "\(Self.units.path)/slad.socket"
            """
        let r = try runProgram(["unshare", "--mount", "--propagation", "private", "bash", "-c", script])
        #expect(r.status == 0, "verify: \(r.stdout)\(r.stderr)")
        #expect(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "verify warned:\n\(r.stderr)")
    }

    @Test("systemd-analyze security: exposure of slad.service at most 2.0 (threshold enforced)")
    func security() throws {
        let unit = Self.units.appendingPathComponent("slad.service").path
        let r = try runProgram(["systemd-analyze", "security", "--offline=true", "--threshold=20", unit])
        #expect(r.status == 0, "\(r.stdout.suffix(2000))\(r.stderr)")
        let line = r.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }
        #expect(line != nil, "\(r.stdout.suffix(500))")
        // The threshold is live: a stricter one fails on the same unit.
        let strict = try runProgram(["systemd-analyze", "security", "--offline=true", "--threshold=5", unit])
        #expect(strict.status != 0)
    }
}
