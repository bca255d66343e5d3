import Foundation
import SLACore

/// A line that could not be turned into an event.
public struct LineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The source name or file.
    public var source: String
    /// The 1-based line number.
    public var line: Int
    /// The field at fault, when one is.
    public var field: String?
    /// What is wrong.
    public var reason: String

    /// `source:line: field: reason`.
    public var description: String {
        "\(source):\(line): " + (field.map { "\($0): " } ?? "") + reason
    }
}

/// Decodes slad's native JSON Lines events with Foundation's `JSONDecoder`.
///
/// The reference implementation: the fast ``JSONLEventDecoder`` must agree with
/// it on every line (a differential test checks this), and benchmarks measure
/// against it.
public struct ReferenceJSONLDecoder: Sendable {
    /// Zone for timestamps written without an offset.
    public var defaultZone: ZoneRules
    /// The source name, used in errors and content identities.
    public var source: String
    /// slad.yaml's policies, which pick the contract of an opening that names none.
    public var policies: PolicyBook

    /// Creates a decoder for one source.
    public init(source: String, defaultZone: ZoneRules = .utc, policies: PolicyBook = PolicyBook()) {
        self.source = source
        self.defaultZone = defaultZone
        self.policies = policies
    }

    /// Decodes one line (without its newline); `number` is 1-based.
    public func decode(line: Substring, number: Int) -> Result<SLAEvent, LineError> {
        func fail(_ field: String?, _ reason: String) -> Result<SLAEvent, LineError> {
            .failure(LineError(source: source, line: number, field: field, reason: reason))
        }
        let wire: RawFields
        do {
            wire = try JSONDecoder().decode(RawFields.self, from: Data(line.utf8))
        } catch DecodingError.typeMismatch(_, let context) where !context.codingPath.isEmpty {
            return fail(context.codingPath.last?.stringValue, "expected a string")
        } catch {
            return fail(nil, "not a JSON object")
        }
        var text = String(line)
        let decoded = wire.event(source: source, line: number, zone: defaultZone) {
            text.withUTF8 { contentHash(UnsafeRawBufferPointer($0)) }
        }
        guard !policies.isEmpty, case .success(let event) = decoded else { return decoded }
        return text.withUTF8 {
            policies.apply(to: event, line: UnsafeRawBufferPointer($0), source: source, number: number)
        }
    }
}
