import Foundation
import SLAAPI
import Testing

@Suite("a reload says which unsealed months' money it changes (real daemon, slactl)", .serialized)
struct ReloadMoneyTests {
    static func contract(reactionPenalty: String) -> String {
        """
        id: terms
        customer: Terms Ltd
        calendar: 24x7
        fee: { amount: "1000.00", currency: EUR }
        priorities:
          P1: { reaction: 15m, resolution: 4h }
        penalties:
          reaction_breach: { P1: "\(reactionPenalty)" }
        """
    }

    @Test(
        "a new penalty changes last month's total: the answer, slactl and the log name contract, month, old and new total; an unchanged reload names none"
    )
    func moneyChanges() throws {
        let work = try makeTemporaryDirectory("slad-reload-money")
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        let contractFile = config.appendingPathComponent("contracts.d/terms.yaml")
        try Self.contract(reactionPenalty: "100.00").write(to: contractFile, atomically: true, encoding: .utf8)
        // Last month stays unsealed for a year.
        try "reports: { seal_after: 366d }\n".write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let socket = work.appendingPathComponent("slad.sock").path
        let stderr = work.appendingPathComponent("stderr")
        let daemon = try startSlad(
            ["run", "--config", config.path, "--state", work.appendingPathComponent("state").path, "--socket", socket],
            stderr: stderr)
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        #expect(waitUntil(30) { (try? curl(socket, "/v1/status").status) == 200 })
        // Opened five days before this month (UTC) and never acknowledged: last month's breach.
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let monthStart = utc.date(from: utc.dateComponents([.year, .month], from: Date()))!
        let opened = Int(monthStart.timeIntervalSince1970) - 5 * 86_400
        let lastMonth = String(iso(opened).prefix(7))
        let events = work.appendingPathComponent("events.jsonl")
        try
            #"{"id":"t1-open","time":"\#(iso(opened))","type":"incident.opened","incident":"T-1","contract":"terms","priority":"P1"}"#
            .appending("\n").write(to: events, atomically: true, encoding: .utf8)
        #expect(try curl(socket, "/v1/events", method: "POST", body: events).status == 200)

        try Self.contract(reactionPenalty: "250.00").write(to: contractFile, atomically: true, encoding: .utf8)
        let reload = try runProgram([slactlBinary, "reload", "--socket", socket])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(
            reload.stdout.contains(
                """
                the new terms change what these months not sealed yet owe:
                CONTRACT  MONTH    BEFORE      AFTER
                terms     \(lastMonth)  100.00 EUR  250.00 EUR
                """), "\(reload.stdout)")
        let log = try String(contentsOf: stderr, encoding: .utf8)
        #expect(
            log.contains("slad: the reload changes the money of a month not sealed yet")
                && log.contains("new_total=250.00 EUR") && log.contains("old_total=100.00 EUR"), "\(log.suffix(1500))")

        // The same terms again: nothing changes.
        let again = try curl(socket, "/v1/reload", method: "POST")
        let result = try APIJSON.decode(ReloadResult.self, from: Array(again.body.utf8))
        #expect(result.moneyChanges == [])
        #expect(again.body.contains("\"money_changes\":[]"), "\(again.body)")
    }
}
