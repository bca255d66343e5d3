/// A contract's availability while its month runs: the downtime its target allows in the
/// month, the downtime spent so far, and what the instant itself is (counted, down). The
/// budget is what ops watch between monthly reports; the instant is what burn-rate alerts
/// sample (a Prometheus rule averages it over its windows, slad measures the windows exactly).
public struct ErrorBudget: Sendable, Hashable {
    /// The month (contract zone) the budget is for.
    public var month: YearMonth
    /// The availability promised.
    public var target: Percentage
    /// Seconds of the month that count: the availability calendar's time in the month (clipped
    /// to the contract's validity) less the excluded maintenance known so far.
    public var monthSeconds: Int64
    /// Downtime the target allows in the month: (1 − target) × ``monthSeconds``, rounded down.
    public var allowedSeconds: Int64
    /// Downtime counted from the month's start to the instant, as the monthly report counts it.
    public var spentSeconds: Int64
    /// Seconds that counted from the month's start to the instant (the report's period less maintenance).
    public var elapsedSeconds: Int64
    /// The instant counts for availability: the contract is valid, the calendar open, no excluded maintenance.
    public var counting: Bool
    /// The instant counts and one of the contract's services is down.
    public var down: Bool

    /// Downtime and counted seconds over the trailing windows of ``BurnAlert/all``, shortest first.
    public var windows: [Window] = []

    /// Downtime and counted seconds of the trailing `length` seconds before the instant.
    public struct Window: Sendable, Hashable {
        /// The window's length, seconds.
        public var length: Int64
        /// Downtime counted in it.
        public var down: Int64
        /// Seconds that counted in it (calendar open, contract valid, no excluded maintenance).
        public var counted: Int64
        /// The first second of downtime in it, nil when none: a burn alert's identity (the same
        /// downtime in the window is the same alert, across restarts).
        public var firstDown: Int64?

        /// A window's figures.
        public init(length: Int64, down: Int64, counted: Int64, firstDown: Int64? = nil) {
            self.length = length
            self.down = down
            self.counted = counted
            self.firstDown = firstDown
        }
    }

    /// A budget's figures (``of(_:services:asOf:)`` computes them).
    public init(
        month: YearMonth, target: Percentage, monthSeconds: Int64, allowedSeconds: Int64, spentSeconds: Int64,
        elapsedSeconds: Int64, counting: Bool, down: Bool, windows: [Window]
    ) {
        self.month = month
        self.target = target
        self.monthSeconds = monthSeconds
        self.allowedSeconds = allowedSeconds
        self.spentSeconds = spentSeconds
        self.elapsedSeconds = elapsedSeconds
        self.counting = counting
        self.down = down
        self.windows = windows
    }

    /// Downtime still allowed this month (negative once overspent).
    public var remainingSeconds: Int64 { allowedSeconds - spentSeconds }

    /// The budget of `contract` as of `asOf`, nil when it promises no availability.
    public static func of(_ contract: Contract, services: ServiceTimeline, asOf: Instant) -> ErrorBudget? {
        guard let terms = contract.availability else { return nil }
        let calendar = terms.calendar
        let month = contract.month(of: asOf)
        let validity = contract.validityInstants
        let monthStart = contract.zone.startOfDay(month.firstDay)
        let monthEnd = contract.zone.startOfDay(month.next.firstDay)
        let start = max(monthStart, validity.start ?? monthStart).seconds
        let end = max(start, min(monthEnd, validity.end ?? monthEnd).seconds)
        let now = min(max(asOf.seconds, start), end)
        // The unions over the contract's services, made once for the month and every window.
        let excludedAll = terms.excludeMaintenance ? services.maintenance(of: contract.services) : IntervalSet()
        let downAll = services.downtime(of: contract.services)
        let maintenance = excludedAll.clamped(to: start..<end)
        let monthSeconds = IntervalSet([start..<end]).subtracting(maintenance).measure(with: calendar)
        let elapsed = IntervalSet([start..<now]).subtracting(maintenance).measure(with: calendar)
        let spent = downAll.clamped(to: start..<now).subtracting(maintenance).measure(with: calendar)
        let counting =
            asOf.seconds >= start && asOf.seconds < end && calendar.isWorking(at: asOf)
            && !(terms.excludeMaintenance && services.isInMaintenance(contract.services, at: asOf))
        return ErrorBudget(
            month: month, target: terms.target, monthSeconds: monthSeconds,
            allowedSeconds: (1_000_000 - terms.target.millionths) * monthSeconds / 1_000_000, spentSeconds: spent,
            elapsedSeconds: elapsed, counting: counting,
            down: counting && services.isDown(contract.services, at: asOf),
            windows: BurnAlert.windowLengths.map { length in
                // The windows run back across the month's start: a burn does not stop at midnight.
                let from = max(validity.start?.seconds ?? .min, asOf.seconds - length)
                let window = from..<max(from, min(asOf.seconds, validity.end?.seconds ?? .max))
                let excluded = excludedAll.clamped(to: window)
                let down = downAll.clamped(to: window).subtracting(excluded)
                let measured = down.measure(with: calendar)
                return Window(
                    length: length, down: measured,
                    counted: IntervalSet([window]).subtracting(excluded).measure(with: calendar),
                    firstDown: measured > 0 ? down.intervals.first?.lowerBound : nil)
            })
    }

    /// The burn alerts whose long and short windows both burn the budget at least their rate.
    public var firing: [BurnAlert] { BurnAlert.all.filter(burns) }

    /// Whether both windows of `alert` burn at least its rate: the error ratio of a window
    /// (downtime over counted time) is at least rate × (1 − target), compared exactly.
    public func burns(_ alert: BurnAlert) -> Bool {
        [alert.long, alert.short].allSatisfy { length in
            guard let w = windows.first(where: { $0.length == length }), w.counted > 0 else { return false }
            return w.down * 10 * 1_000_000 >= alert.rateTenths * (1_000_000 - target.millionths) * w.counted
        }
    }
}

/// A multiwindow burn-rate alert (the SRE workbook's): it fires while both the long and the
/// short window spend the error budget at least `rate` times as fast as the target allows.
public struct BurnAlert: Sendable, Hashable {
    /// The long window, seconds.
    public var long: Int64
    /// The short window (a twelfth of the long one), seconds: the alert stops soon after the burn does.
    public var short: Int64
    /// The burn rate, in tenths (14.4 → 144).
    public var rateTenths: Int64
    /// `page` (fast burns) or `ticket` (slow ones).
    public var severity: String

    /// The rate as text, `14.4`.
    public var rate: String { Self.rateText(tenths: rateTenths) }

    /// A rate in tenths as text: 144 → `14.4`, 60 → `6`.
    public static func rateText(tenths: Int64) -> String {
        tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }

    /// 2 % of a 30-day budget in 1 h, 5 % in 6 h (page); 10 % in 1 d, 10 % in 3 d (ticket).
    public static let all = [
        BurnAlert(long: 3_600, short: 300, rateTenths: 144, severity: "page"),
        BurnAlert(long: 21_600, short: 1_800, rateTenths: 60, severity: "page"),
        BurnAlert(long: 86_400, short: 7_200, rateTenths: 30, severity: "ticket"),
        BurnAlert(long: 259_200, short: 21_600, rateTenths: 10, severity: "ticket"),
    ]

    /// Every window length the alerts use.
    public static let windowLengths = Array(Set(all.flatMap { [$0.long, $0.short] })).sorted()
}
