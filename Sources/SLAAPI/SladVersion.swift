/// slad's version: what `slad --version`, `slactl --version`, the status API and
/// `slad_build_info` say, and the Debian package's version (scripts/deb.sh asks the binary).
public enum SladVersion {
    /// The release the sources are.
    public static let release = "0.7.0"

    /// The version of this build: the release and, built from a git checkout, the commit it
    /// comes from (`0.7.0+git20261206.262`), written before each build by the BuildVersion plugin.
    public static let current = release + buildSuffix
}
