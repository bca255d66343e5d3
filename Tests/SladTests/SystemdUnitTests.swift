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

    @Test("make install DESTDIR=…: the documented layout, units follow PREFIX, an admin's configuration is kept")
    func stagedInstall() throws {
        let stage = try makeTemporaryDirectory("slad-stage")
        defer { try? FileManager.default.removeItem(at: stage) }
        func install(prefix: String) throws -> Ran {
            try runProgram([
                "make", "-C", repositoryRoot.path, "install", "BIN_DIR=\(binaryFolder)", "DESTDIR=\(stage.path)",
                "PREFIX=\(prefix)",
            ])
        }
        let first = try install(prefix: "/usr/local")
        try #require(first.status == 0, "\(first.stdout)\(first.stderr)")
        for path in [
            "usr/local/bin/slad", "usr/local/bin/slactl", "usr/local/lib/systemd/system/slad.service",
            "usr/local/lib/systemd/system/slad.socket", "usr/local/lib/sysusers.d/slad.conf",
            "usr/local/lib/tmpfiles.d/slad.conf", "usr/local/lib/systemd/catalog/slad.catalog",
            "usr/local/share/man/man1/slad.1.gz", "usr/local/share/man/man1/slactl.1.gz",
            "usr/local/share/man/man5/slad.yaml.5.gz", "usr/local/share/doc/slad/reports.md", "etc/slad/slad.yaml",
            "usr/local/share/doc/slad/examples/slad.yaml",
            "usr/local/share/doc/slad/examples/contracts.d/acme-gold.yaml",
            "usr/local/share/doc/slad/examples/calendars/msk-business.yaml",
            "usr/local/share/doc/slad/examples/sources/servicenow.yaml",
            "usr/local/share/doc/slad/examples/prometheus/slad.rules.yml",
            "usr/local/share/doc/slad/examples/grafana/slad.json",
            "usr/local/share/bash-completion/completions/slactl", "usr/local/share/zsh/vendor-completions/_slactl",
            "usr/local/share/fish/vendor_completions.d/slactl.fish", "usr/local/share/bash-completion/completions/slad",
        ] {
            #expect(FileManager.default.fileExists(atPath: stage.appendingPathComponent(path).path), "\(path)")
        }
        // The configuration prices nothing until the site adds its own contracts: the examples
        // are documentation, not /etc/slad.
        for folder in ["contracts.d", "calendars", "sources"] {
            let listed = try FileManager.default.contentsOfDirectory(
                atPath: stage.appendingPathComponent("etc/slad/\(folder)").path)
            #expect(listed.isEmpty, "etc/slad/\(folder): \(listed)")
        }
        // Stripped: the installed binaries are smaller than the built ones, and have no symbol table.
        for b in ["slad", "slactl"] {
            let built = try FileManager.default.attributesOfItem(atPath: binaryFolder + "/" + b)[.size] as? Int ?? 0
            let installed =
                try FileManager.default.attributesOfItem(
                    atPath: stage.appendingPathComponent("usr/local/bin/\(b)").path)[
                    .size] as? Int ?? 0
            #expect(installed < built, "\(b): \(installed) bytes installed, \(built) built")
            let symbols = try runProgram([
                "sh", "-c", "objdump -h \"$0\" | grep -c ' .symtab ' || true",
                stage.appendingPathComponent("usr/local/bin/\(b)").path,
            ])
            #expect(symbols.stdout.trimmed == "0", "\(b) keeps its symbol table")
        }
        // Completions are the argument parser's, and bash's has no #! line (it is sourced).
        let completion = try String(
            contentsOf: stage.appendingPathComponent("usr/local/share/bash-completion/completions/slactl"),
            encoding: .utf8)
        #expect(!completion.hasPrefix("#!") && completion.contains("slactl"), "\(completion.prefix(200))")
        // A staged install creates no key and no users: that is the postinst's work on the target.
        #expect(!FileManager.default.fileExists(atPath: stage.appendingPathComponent("etc/slad/secrets/ops.key").path))
        let unit = try String(
            contentsOf: stage.appendingPathComponent("usr/local/lib/systemd/system/slad.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/slad run --config /etc/slad"))
        #expect(!unit.contains("/usr/bin/slad"))
        // The installed configuration is valid as shipped; the groups it names come from sysusers.d,
        // which a staged install does not run: on a machine without them those are the only errors.
        let check = try runProgram([sladBinary, "check-config", stage.appendingPathComponent("etc/slad").path])
        if try runProgram(["getent", "group", "slad-status", "slad-admin"]).status == 0 {
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        } else {
            let text = check.stdout + check.stderr
            let errors = text.split(separator: "\n").filter { $0.contains(": control.") }
            #expect(check.status == 1)
            #expect(text.contains("2 errors in"), "\(text)")
            #expect(errors.count == 2, "\(text)")
            #expect(errors.allSatisfy { $0.contains("does not exist on this machine") }, "\(text)")
        }
        // An admin's edit survives a second install.
        let yaml = stage.appendingPathComponent("etc/slad/slad.yaml")
        try "# edited by the admin\n".write(to: yaml, atomically: true, encoding: .utf8)
        let second = try install(prefix: "/usr/local")
        #expect(second.status == 0)
        #expect(second.stdout.contains("keeping /etc/slad/slad.yaml (exists)"), "\(second.stdout)")
        #expect(try String(contentsOf: yaml, encoding: .utf8) == "# edited by the admin\n")
    }

    @Test("scripts/deb.sh refuses binaries linking libraries no Debian package owns, naming them")
    func debRefusesToolchainLinkedBinaries() throws {
        // The test build links the toolchain's libswiftCore.so dynamically; `make deb` links it statically.
        let out = try makeTemporaryDirectory("slad-deb")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try runProgram([
            repositoryRoot.appendingPathComponent("scripts/deb.sh").path, "--bin-dir", binaryFolder, "--out", out.path,
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("belong to no Debian package"), "\(r.stderr)")
        #expect(r.stderr.contains("libswiftCore.so"), "\(r.stderr)")
        let produced = try FileManager.default.contentsOfDirectory(atPath: out.path)
        #expect(produced.isEmpty, "\(produced)")
    }
}
