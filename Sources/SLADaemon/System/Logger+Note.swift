import Logging

extension Logger {
    /// One record: a constant message, its data as metadata.
    func note(_ message: String, _ fields: [String: String] = [:], level: Logger.Level = .info) {
        log(level: level, "\(message)", metadata: fields.mapValues { .string($0) })
    }
}
