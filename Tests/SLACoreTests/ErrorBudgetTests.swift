import SLACore
import Testing

@Suite("Error budget and burn windows")
struct ErrorBudgetTests {
    /// 99.9 % of office hours in Berlin (Mon–Fri 09–17), maintenance excluded, for `portal`.
    static func contract(promising: Bool = true) -> Contract {
        let eur = Currency(code: "EUR")!
        return Contract(
            id: "b", customer: "Budget", calendar: officeCalendar(Zones.berlin),
            fee: Money(minorUnits: 100_000, currency: eur),
            services: ["portal"],
            availability: promising
                ? AvailabilityTerms(
                    target: Percentage(parsing: "99.9%")!, calendar: officeCalendar(Zones.berlin),
                    excludeMaintenance: true, credits: []) : nil,
            priorities: [])
    }

    static func event(_ id: String, _ type: EventType, _ time: String, service: String = "portal") -> SLAEvent {
        SLAEvent(id: id, time: t(time), type: type, service: service)
    }

    /// Maintenance Wed 10–12 (excluded); an outage Thu 16:00–18:30 (1 h inside office hours);
    /// an outage from Mon 10:00; another service's outage, which is not the contract's.
    static let events = [
        event("m1", .maintenanceStarted, "2026-12-02T10:00:00+01:00"),
        event("m2", .maintenanceEnded, "2026-12-02T12:00:00+01:00"),
        event("d1", .serviceDown, "2026-12-03T16:00:00+01:00"),
        event("u1", .serviceUp, "2026-12-03T18:30:00+01:00"),
        event("d2", .serviceDown, "2026-12-07T10:00:00+01:00"),
        event("x1", .serviceDown, "2026-12-04T09:00:00+01:00", service: "shop"),
    ]

    static func budget(_ events: [SLAEvent], asOf: String) -> ErrorBudget? {
        ErrorBudget.of(contract(), services: ServiceTimeline.build(from: events, asOf: t(asOf)).0, asOf: t(asOf))
    }

    static func windows(_ figures: [(down: Int64, counted: Int64)], firstDown: [Int64?]) -> [ErrorBudget.Window] {
        zip(zip(BurnAlert.windowLengths, figures), firstDown).map {
            ErrorBudget.Window(length: $0.0, down: $0.1.down, counted: $0.1.counted, firstDown: $1)
        }
    }

    @Test(
        "during an outage: the month's budget in office hours less maintenance, the downtime inside them, every window burning"
    )
    func duringOutage() throws {
        let b = try #require(Self.budget(Self.events, asOf: "2026-12-07T10:30:00+01:00"))
        // 23 office days of 8 h less 2 h maintenance; 0.1 % of it, rounded down; 1 h Thursday + 30 min now.
        #expect(
            b
                == ErrorBudget(
                    month: YearMonth(year: 2026, month: 12), target: Percentage(parsing: "99.9%")!,
                    monthSeconds: 655_200,
                    allowedSeconds: 655, spentSeconds: 5_400, elapsedSeconds: 113_400, counting: true, down: true,
                    windows: Self.windows(
                        [
                            (300, 300), (1_800, 1_800), (1_800, 3_600), (1_800, 5_400), (1_800, 5_400), (1_800, 5_400),
                            (1_800, 28_800),
                        ],
                        // The outage's start, or the short window's start inside it: the alerts' identity.
                        firstDown: [t("2026-12-07T10:25:00+01:00").seconds]
                            + Array(repeating: t("2026-12-07T10:00:00+01:00").seconds, count: 6))))
        #expect(BurnAlert.windowLengths == [300, 1_800, 3_600, 7_200, 21_600, 86_400, 259_200])
        #expect(b.firing == BurnAlert.all)
        #expect(b.remainingSeconds == 655 - 5_400)
    }

    @Test("half an hour after the outage: the short windows are clean, so the fast burns stop and the slow ones go on")
    func afterOutage() throws {
        let events = Self.events + [Self.event("u2", .serviceUp, "2026-12-07T10:30:00+01:00")]
        let b = try #require(Self.budget(events, asOf: "2026-12-07T11:00:00+01:00"))
        #expect(b.counting && !b.down)
        #expect(b.spentSeconds == 5_400)
        #expect(b.firing.map(\.rateTenths) == [30, 10])
    }

    @Test("at night and in maintenance the instant does not count, so it is not down either")
    func notCounting() throws {
        let night = try #require(Self.budget(Self.events, asOf: "2026-12-07T20:00:00+01:00"))
        #expect(!night.counting && !night.down)
        // The downtime spent stops at 17:00 though the outage runs on.
        #expect(night.spentSeconds == 3_600 + 7 * 3_600)
        let maintenance =
            Self.events + [
                Self.event("m3", .maintenanceStarted, "2026-12-08T09:00:00+01:00"),
                Self.event("u2", .serviceUp, "2026-12-08T09:30:00+01:00"),
            ]
        let during = try #require(Self.budget(maintenance, asOf: "2026-12-08T09:15:00+01:00"))
        #expect(!during.counting && !during.down)
    }

    @Test("a contract without an availability promise has no budget")
    func noPromise() {
        let asOf = t("2026-12-07T10:30:00+01:00")
        let services = ServiceTimeline.build(from: Self.events, asOf: asOf).0
        #expect(ErrorBudget.of(Self.contract(promising: false), services: services, asOf: asOf) == nil)
    }
}
