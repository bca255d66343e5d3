import Foundation
import SLACore
import Yams

/// Collects errors of one load, bounded so that a hostile file cannot flood the output.
final class Diagnostics {
    private(set) var errors: [ConfigError] = []
    static let limitPerFile = 100
    private var perFile: [String: Int] = [:]

    func report(_ error: ConfigError) {
        let n = perFile[error.file, default: 0]
        perFile[error.file] = n + 1
        if n < Diagnostics.limitPerFile {
            errors.append(error)
        } else if n == Diagnostics.limitPerFile {
            errors.append(ConfigError(file: error.file, field: "", reason: "too many errors; the rest are not shown"))
        }
    }

    var isEmpty: Bool { errors.isEmpty }
    var count: Int { errors.count }
}

/// A YAML node with its place in the file, for error reporting.
struct YAMLValue {
    let node: Node
    let path: String
    let file: String
    let diagnostics: Diagnostics

    var line: Int? { node.mark?.line }
    var column: Int? { node.mark?.column }

    func child(_ node: Node, _ key: String) -> YAMLValue {
        YAMLValue(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file, diagnostics: diagnostics)
    }

    func fail(_ reason: String, hint: String? = nil) {
        diagnostics.report(ConfigError(file: file, line: line, column: column, field: path, reason: reason, hint: hint))
    }

    /// The scalar's text, or an error naming what was expected.
    func string(_ what: String = "a text value") -> String? {
        if case .scalar(let s) = node { return s.string }
        fail("expected \(what), found \(kind)")
        return nil
    }

    var isNull: Bool {
        if case .scalar(let s) = node { return s.string.isEmpty || s.string == "null" || s.string == "~" }
        return false
    }

    var kind: String {
        switch node {
        case .scalar: "a value"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// A list's items (a lone scalar is not accepted as a list).
    func list(_ what: String = "a list") -> [YAMLValue]? {
        guard case .sequence(let seq) = node else {
            fail("expected \(what), found \(kind)")
            return nil
        }
        return seq.enumerated().map { child($1, "[\($0)]") }
    }

    /// A mapping's entries by key; unknown keys are errors, with the closest known key suggested.
    func mapping(known: [String], what: String = "a mapping") -> Fields? {
        guard case .mapping(let map) = node else {
            fail("expected \(what), found \(kind)")
            return nil
        }
        var fields = Fields(parent: self)
        for (k, v) in map {
            guard case .scalar(let ks) = k else {
                child(k, "?").fail("keys must be plain text")
                continue
            }
            let key = ks.string
            let value = child(v, key)
            if !known.contains(key) {
                let keyValue = YAMLValue(node: k, path: value.path, file: file, diagnostics: diagnostics)
                let suggestion = closest(to: key, in: known).map { "did you mean '\($0)'?" }
                keyValue.fail(
                    "unknown key '\(key)'", hint: suggestion ?? "known keys: \(known.joined(separator: ", "))")
                continue
            }
            fields.values[key] = value
            fields.order.append(key)
        }
        return fields
    }

    /// An open mapping (keys are data, e.g. priority names).
    func entries(_ what: String = "a mapping") -> [(key: String, value: YAMLValue)]? {
        guard case .mapping(let map) = node else {
            fail("expected \(what), found \(kind)")
            return nil
        }
        var out: [(String, YAMLValue)] = []
        for (k, v) in map {
            guard case .scalar(let ks) = k else {
                child(k, "?").fail("keys must be plain text")
                continue
            }
            out.append((ks.string, child(v, ks.string)))
        }
        return out
    }

    /// A list of plain text values.
    func strings(_ what: String = "a list of names") -> [String]? {
        guard let items = list(what) else { return nil }
        return items.compactMap { $0.string() }
    }
}

/// The known fields of one mapping.
struct Fields {
    let parent: YAMLValue
    var values: [String: YAMLValue] = [:]
    var order: [String] = []

    subscript(_ key: String) -> YAMLValue? { values[key] }

    /// A required field; reports its absence at the mapping.
    func required(_ key: String, hint: String? = nil) -> YAMLValue? {
        if let v = values[key] { return v }
        parent.fail("missing required key '\(key)'", hint: hint)
        return nil
    }
}

/// The known word nearest to `word` by edit distance, when it is plausibly a typo.
func closest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let w = Array(word)
    let best = candidates.map { ($0, distance(w, Array($0))) }.min { $0.1 < $1.1 }
    guard let best, best.1 <= max(2, word.count / 3) else { return nil }
    return best.0
}

/// Reads and parses one YAML file; every failure becomes a diagnostic.
enum YAMLFile {
    /// Files larger than this are refused before parsing.
    static let maxBytes = 1 << 20
    /// Flow collections nested deeper than this are refused: the parser recurses per level.
    static let maxFlowDepth = 64

    static func load(path: String, displayName: String, diagnostics: Diagnostics) -> YAMLValue? {
        func fail(_ reason: String, line: Int? = nil, column: Int? = nil, hint: String? = nil) {
            diagnostics.report(
                ConfigError(file: displayName, line: line, column: column, field: "", reason: reason, hint: hint))
        }
        guard let data = readFile(path, limit: maxBytes + 1) else {
            fail("cannot be read")
            return nil
        }
        guard data.count <= maxBytes else {
            fail("is larger than \(maxBytes) bytes, the limit for configuration files")
            return nil
        }
        guard !data.contains(0), let text = String(data: data, encoding: .utf8) else {
            fail("is not UTF-8 text")
            return nil
        }
        var depth = 0
        var line = 1
        var inQuote: UInt8?
        for byte in data {
            if byte == UInt8(ascii: "\n") { line += 1 }
            if let q = inQuote {
                if byte == q { inQuote = nil }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): inQuote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxFlowDepth {
                    fail("nests brackets deeper than \(maxFlowDepth) levels", line: line)
                    return nil
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            default: break
            }
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            let (reason, mark, hint) = describe(error, text: text)
            fail(reason, line: mark?.line, column: mark?.column, hint: hint)
            return nil
        } catch {
            fail("is not valid YAML: \(error)")
            return nil
        }
        guard let node else {
            fail("is empty")
            return nil
        }
        return YAMLValue(node: node, path: "", file: displayName, diagnostics: diagnostics)
    }

    /// What a YAML error says, where, and a hint. A syntax error is placed where the construct
    /// it broke starts (an unclosed `[` is reported on its own line, not at the end of the
    /// file where the parser noticed), with the place the parser stopped in the message.
    static func describe(_ error: YamlError, text: String) -> (String, Mark?, String?) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let hint = tabHint(problem, at: mark, in: text)
            guard let context,
                context.mark.line < mark.line || (context.mark.line == mark.line && context.mark.column < mark.column)
            else { return ("YAML syntax: \(problem)", mark, hint) }
            return (
                "YAML syntax: \(problem) \(context.text) (noticed at line \(mark.line), column \(mark.column))",
                context.mark, hint
            )
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ("duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", "))", context.mark, nil)
        case .reader(let problem, _, _, _):
            return ("YAML: \(problem)", nil, nil)
        default:
            return ("YAML: \(error)", nil, nil)
        }
    }

    /// A tab where YAML allows only spaces gets a hint saying so.
    static func tabHint(_ problem: String, at mark: Mark, in text: String) -> String? {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isLineEnd)
        guard mark.line >= 1, mark.line <= lines.count, lines[mark.line - 1].contains("\t") else { return nil }
        return "YAML indents with spaces only: replace the tab on line \(mark.line) with spaces"
    }
}
