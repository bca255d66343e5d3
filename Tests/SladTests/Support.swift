import Foundation
import SLAConfig
import SLACore

/// The repository root, found from this file's path so tests run from any folder.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fresh temporary folder for one test.
func makeTemporaryDirectory(_ name: String = "slad-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// One worked scenario of docs/semantics.md.
struct Scenario: Sendable, CustomStringConvertible {
    var id: String
    var title: String
    var contract: String
    var asOf: String?
    var events: [String]
    var expect: [String]
    var description: String { "\(id) \(title)" }
}

/// The scenario contracts and scenarios of docs/semantics.md.
struct SemanticsDocument: Sendable {
    var files: [(path: String, text: String)]
    var scenarios: [Scenario]
    var reports: [GoldenReport] = []

    static func load(_ path: String = "docs/semantics.md") throws -> SemanticsDocument {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
        var files: [(String, String)] = []
        var scenarios: [Scenario] = []
        var reports: [GoldenReport] = []
        var heading = ("", "")
        var block: [String]?
        var info = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if var body = block {
                if line == "```" {
                    if info.hasPrefix("yaml file=") {
                        files.append((String(info.dropFirst("yaml file=".count)), body.joined(separator: "\n") + "\n"))
                    } else if info == "scenario" {
                        scenarios.append(parseScenario(body, id: heading.0, title: heading.1))
                    } else if info == "report" {
                        reports.append(GoldenReport(body, id: heading.0, title: heading.1))
                    }
                    block = nil
                } else {
                    body.append(line)
                    block = body
                }
                continue
            }
            if line.hasPrefix("### S") || line.hasPrefix("### R") {
                let rest = line.dropFirst(4)
                let id = String(rest.prefix { $0 != "." })
                heading = (id, String(rest.drop { $0 != "." }.dropFirst()).trimmingCharacters(in: .whitespaces))
            } else if line.hasPrefix("```") && line.count > 3 {
                info = String(line.dropFirst(3))
                block = []
            }
        }
        return SemanticsDocument(files: files, scenarios: scenarios, reports: reports)
    }

    static func parseScenario(_ lines: [String], id: String, title: String) -> Scenario {
        var s = Scenario(id: id, title: title, contract: "", asOf: nil, events: [], expect: [])
        var section = ""
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("contract: ") {
                s.contract = String(line.dropFirst("contract: ".count))
            } else if line.hasPrefix("as-of: ") {
                s.asOf = String(line.dropFirst("as-of: ".count))
            } else if line == "events:" || line == "expect:" {
                section = line
            } else if !trimmed.isEmpty {
                if section == "events:" { s.events.append(trimmed) } else { s.expect.append(trimmed) }
            }
        }
        return s
    }

    /// Writes the document's configuration files (calendars, contracts) into `dir`.
    func write(to dir: URL) throws {
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    /// Writes the scenario configuration into a fresh folder and loads it.
    func configuration() throws -> SladConfiguration {
        let dir = try makeTemporaryDirectory("slad-scenarios")
        try write(to: dir)
        return try ConfigLoader.load(directory: dir.path)
    }
}

/// A hand-computed report of docs/reports.md: events, then per month the state and CSV rows expected.
struct GoldenReport: Sendable, CustomStringConvertible {
    struct Month: Sendable {
        var month = ""
        var state = ""
        var expect: [String] = []
    }
    var id: String
    var title: String
    var contract = ""
    var asOf = ""
    var events: [String] = []
    var months: [Month] = []

    var description: String { "\(id) \(title)" }

    init(_ lines: [String], id: String, title: String) {
        self.id = id
        self.title = title
        var section = ""
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let value = line.value(of: "contract") {
                contract = value
            } else if let value = line.value(of: "as-of") {
                asOf = value
            } else if let value = line.value(of: "month") {
                months.append(Month(month: value))
            } else if let value = line.value(of: "state") {
                months[months.count - 1].state = value
            } else if line == "events:" || line == "expect:" {
                section = line
            } else if !trimmed.isEmpty {
                if section == "events:" {
                    events.append(trimmed)
                } else {
                    months[months.count - 1].expect.append(trimmed)
                }
            }
        }
    }
}

extension String {
    /// `VALUE` of a `key: VALUE` line.
    fileprivate func value(of key: String) -> String? {
        hasPrefix(key + ": ") ? String(dropFirst(key.count + 2)) : nil
    }
}

/// Errors of the scenario event language.
struct ScenarioSyntaxError: Error, CustomStringConvertible {
    var description: String
}

/// Turns `TIME KIND SUBJECT [PRIORITY] [key=value…]` lines into events.
func scenarioEvents(_ lines: [String], contract: Contract, scenario: String) throws -> [SLAEvent] {
    func parse(_ text: String) throws -> ISO8601.Parsed {
        guard let parsed = ISO8601.parse(text) else { throw ScenarioSyntaxError(description: "bad time '\(text)'") }
        return parsed
    }
    var events: [SLAEvent] = []
    for (n, line) in lines.enumerated() {
        let words = line.split(separator: " ").map(String.init)
        guard words.count >= 3 else {
            throw ScenarioSyntaxError(description: "\(scenario): short event line '\(line)'")
        }
        let kind = words[1].contains(".") ? words[1] : "incident.\(words[1])"
        guard let type = EventType(rawValue: kind) else {
            throw ScenarioSyntaxError(description: "\(scenario): unknown kind '\(words[1])'")
        }
        let at = try parse(words[0])
        var event = SLAEvent(
            id: "\(scenario)-\(n + 1)", time: at.instant(in: contract.zone), type: type, fractional: at.fractional)
        if type.isIncidentEvent {
            event.incident = words[2]
            event.contract = contract.id
        } else {
            event.service = words[2]
        }
        for word in words.dropFirst(3) {
            guard let eq = word.firstIndex(of: "=") else {
                event.priority = word
                continue
            }
            let key = String(word[..<eq])
            let value = String(word[word.index(after: eq)...])
            switch key {
            case "id": event.id = value
            case "priority": event.priority = value
            case "status": event.status = value
            case "team": event.team = value
            case "assignee": event.assignee = value
            case "level": event.level = value
            case "contract": event.contract = value
            case "promise": event.promise = value
            case "due": event.due = try parse(value).deadline(in: contract.zone)
            default: throw ScenarioSyntaxError(description: "\(scenario): unknown key '\(key)'")
            }
        }
        events.append(event)
    }
    return events
}

/// What differs between two lists of lines, for a failure message: lines missing (`-`) and
/// lines not expected (`+`), then, when both hold the same lines, the order each has.
func lineDiff(_ expected: [String], _ actual: [String]) -> String {
    var unmatched = actual
    var missing: [String] = []
    for line in expected {
        if let i = unmatched.firstIndex(of: line) { unmatched.remove(at: i) } else { missing.append(line) }
    }
    if missing.isEmpty && unmatched.isEmpty {
        return "same lines, other order; actual:\n" + actual.map { "  " + $0 }.joined(separator: "\n")
    }
    return (missing.map { "- " + $0 } + unmatched.map { "+ " + $0 }).joined(separator: "\n")
        + "\nactual:\n" + actual.map { "  " + $0 }.joined(separator: "\n")
}
