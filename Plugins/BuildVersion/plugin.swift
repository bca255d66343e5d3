import Foundation
import PackagePlugin

/// Writes `BuildVersion.swift` before each build: the commit the sources come from, as
/// `+gitYYYYMMDD.COUNT` (the last commit's date and the number of commits), so that
/// `slad --version`, `slactl --version`, the status API, `slad_build_info` and the Debian
/// package say the same version. Outside a git checkout (a source tarball) it is empty.
@main
struct BuildVersion: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "BuildVersion.swift")
        let root = context.package.directoryURL.path()
        let script = """
            d=$(git -C '\(root)' log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null)
            n=$(git -C '\(root)' rev-list --count HEAD 2>/dev/null)
            suffix=""
            [ -n "$d" ] && [ -n "$n" ] && suffix="+git$d.$n"
            printf '/// The commit the build comes from (`+gitYYYYMMDD.COUNT`), empty outside git.\\n' >"$1.tmp"
            printf 'let buildSuffix = "%s"\\n' "$suffix" >>"$1.tmp"
            cmp -s "$1.tmp" "$1" || mv "$1.tmp" "$1"
            rm -f "$1.tmp"
            """
        return [
            .prebuildCommand(
                displayName: "slad version from git", executable: URL(filePath: "/bin/sh"),
                arguments: ["-c", script, "sh", output.path()],
                outputFilesDirectory: context.pluginWorkDirectoryURL)
        ]
    }
}
