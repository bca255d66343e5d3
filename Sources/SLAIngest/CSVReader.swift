/// A record of a CSV file with where it starts.
public struct CSVRecord: Sendable, Equatable {
    /// The fields, unquoted.
    public var fields: [String]
    /// The 1-based line the record starts on.
    public var line: Int
    /// The byte offset the record starts at.
    public var offset: Int
}

/// An RFC 4180 reader over bytes: quoted fields, doubled quotes, quoted
/// newlines, CRLF or LF line ends, a UTF-8 byte order mark. Invalid UTF-8 in a
/// field becomes U+FFFD rather than an error: one bad byte must not hide a row.
public struct CSVReader: Sequence, IteratorProtocol {
    private let bytes: [UInt8]
    private let delimiter: UInt8
    private var position: Int
    private var line = 1

    /// Reads `bytes`, skipping a leading byte order mark.
    public init(bytes: [UInt8], delimiter: UInt8 = UInt8(ascii: ",")) {
        self.bytes = bytes
        self.delimiter = delimiter
        position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    /// The next record, or nil at the end.
    public mutating func next() -> CSVRecord? {
        // Skip blank lines between records.
        while position < bytes.count, bytes[position] == 0x0A || bytes[position] == 0x0D {
            if bytes[position] == 0x0A { line += 1 }
            position += 1
        }
        guard position < bytes.count else { return nil }
        let startLine = line
        let startOffset = position
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        while position < bytes.count {
            let b = bytes[position]
            if quoted {
                if b == 0x22 {
                    if position + 1 < bytes.count, bytes[position + 1] == 0x22 {
                        field.append(0x22)
                        position += 2
                        continue
                    }
                    quoted = false
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
                position += 1
                continue
            }
            if b == 0x22 && field.isEmpty {
                quoted = true
            } else if b == delimiter {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            } else if b == 0x0A || b == 0x0D {
                break
            } else {
                field.append(b)
            }
            position += 1
        }
        fields.append(String(decoding: field, as: UTF8.self))
        if position < bytes.count, bytes[position] == 0x0D { position += 1 }
        if position < bytes.count, bytes[position] == 0x0A {
            position += 1
            line += 1
        }
        return CSVRecord(fields: fields, line: startLine, offset: startOffset)
    }
}
