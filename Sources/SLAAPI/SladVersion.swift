/// slad's version: what `slad --version`, `slactl --version` and the status API say, and the
/// upstream part of the Debian package's version (scripts/deb.sh reads it from this file).
public enum SladVersion {
    /// The version of this build.
    public static let current = "0.7.0"
}
