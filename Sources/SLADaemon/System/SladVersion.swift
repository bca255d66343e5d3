/// slad's version, as the status API and `--version` show it.
public enum SladVersion {
    /// The version of this build.
    public static let current = "0.6.0"
}
