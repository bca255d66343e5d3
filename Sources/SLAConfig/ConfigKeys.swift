/// The keys each mapping of the configuration accepts, by where it sits. The loaders refuse
/// any other key; the JSON Schemas of contrib/schema list the same ones, which the suite
/// checks (SchemaTests), so an editor completes what slad accepts.
public enum ConfigKeys {
    /// `slad.yaml`.
    public static var main: [String] { ConfigLoader.mainKeys }
    /// `slad.yaml` `control`.
    public static var control: [String] { ConfigLoader.controlKeys }
    /// One entry of `slad.yaml` `webhooks`.
    public static var webhook: [String] { ConfigLoader.webhookKeys }
    /// One entry of `slad.yaml` `sources`.
    public static let source = ["name", "path", "format"]
    /// `slad.yaml` `metrics`.
    public static let metrics = ["listen"]
    /// `slad.yaml` `store` (as a mapping).
    public static let store = ["url", "password_file", "password_credential", "node"]
    /// `slad.yaml` `reports`.
    public static let reports = ["seal_after"]
    /// `slad.yaml` `alertmanager`.
    public static let alertmanager = ["listen", "token_file", "services"]
    /// One rule of `alertmanager.services`.
    public static let alertmanagerRule = ["match", "service", "service_label"]
    /// One window of `slad.yaml` `maintenance`.
    public static let maintenanceWindow = ["service", "from", "to"]
    /// One of `slad.yaml` `teams`.
    public static let team = ["notify", "lead", "ola"]
    /// One of `slad.yaml` `policies`.
    public static let policy = ["name", "match", "contract", "priority", "priority_from"]
    /// One of `slad.yaml` `lines`.
    public static let line = ["notify", "ola"]
    /// The `ola` of a line or team.
    public static let ola = ["calendar", "pause_on", "targets", "warn_at", "escalations"]
    /// A contract.
    public static var contract: [String] { ContractLoader.keys }
    /// One of a contract's `versions`.
    public static var contractVersion: [String] { ContractLoader.versionKeys }
    /// A contract's `valid`.
    public static let validity = ["from", "to"]
    /// A contract's `fee`.
    public static let fee = ["amount", "currency"]
    /// A contract's `availability`.
    public static let availability = ["target", "calendar", "exclude_maintenance", "credits"]
    /// One of `availability.credits`.
    public static let creditTier = ["below", "credit"]
    /// One of a contract's `priorities`.
    public static let priority = ["reaction", "resolution", "calendar"]
    /// One of a contract's `escalations`.
    public static let escalation = ["at", "notify"]
    /// One kind of a contract's `promises`.
    public static let promise = ["warn_at", "escalations", "every"]
    /// A contract's `pause_on` written per clock.
    public static let pauseOn = ["reaction", "resolution"]
    /// A contract's `penalties`.
    public static let penalties = ["reaction_breach", "resolution_breach", "promise_breach", "cap"]
    /// A penalty written as a mapping.
    public static let penalty = ["fixed", "per_hour_late"]
    /// A calendar.
    public static var calendar: [String] { CalendarLoader.keys }
    /// A holiday written as a mapping.
    public static let holiday = ["date", "name"]
    /// One of a calendar's `extra_working_days`.
    public static let extraWorkingDay = ["date", "hours"]
    /// A source mapping.
    public static var sourceMapping: [String] { SourceMappingLoader.keys }
    /// A source mapping's `fields`.
    public static var sourceFields: [String] { SourceMappingLoader.fieldKeys }
    /// A status meaning written as a mapping.
    public static let status = ["status", "acknowledge", "skip"]
}
