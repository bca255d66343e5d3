/// An ISO 4217 currency and the number of digits of its minor unit.
public struct Currency: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Three upper-case letters.
    public let code: String
    /// Digits after the decimal point (2 for EUR, 0 for JPY, 3 for KWD).
    public let minorDigits: Int

    /// Minor-unit digits of currencies whose minor unit is not 2 (ISO 4217).
    static let nonTwoDigit: [String: Int] = [
        "BHD": 3, "BIF": 0, "CLF": 4, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KMF": 0,
        "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0, "UYI": 0, "UYW": 4, "VND": 0,
        "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    ]

    /// Active ISO 4217 codes with a 2-digit minor unit that contracts are likely to use.
    static let twoDigit: Set<String> = [
        "AED", "ARS", "AUD", "BGN", "BRL", "BYN", "CAD", "CHF", "CNY", "COP", "CZK", "DKK", "EGP", "EUR", "GBP", "GEL",
        "HKD", "HUF", "IDR", "ILS", "INR", "KZT", "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "PEN", "PHP", "PKR", "PLN",
        "QAR", "RON", "RSD", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD", "UZS", "ZAR", "AMD", "AZN",
    ]

    /// The currency for `code`, or nil when it is not a known ISO 4217 code.
    public init?(code: String) {
        if let digits = Currency.nonTwoDigit[code] {
            self.code = code
            minorDigits = digits
        } else if Currency.twoDigit.contains(code) {
            self.code = code
            minorDigits = 2
        } else {
            return nil
        }
    }

    /// The ISO 4217 code.
    public var description: String { code }

    /// 10 ^ minorDigits.
    public var scale: Int64 {
        var s: Int64 = 1
        for _ in 0..<minorDigits { s *= 10 }
        return s
    }

    /// Decodes from the ISO 4217 code.
    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        guard let c = Currency(code: code) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown currency"))
        }
        self = c
    }

    /// Encodes as the ISO 4217 code.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(code)
    }
}

/// An amount of money in integer minor units. Never floating point.
public struct Money: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The amount in the currency's minor unit (cents, kopecks, yen).
    public var minorUnits: Int64
    /// The currency of the amount.
    public var currency: Currency

    /// Creates an amount from minor units.
    public init(minorUnits: Int64, currency: Currency) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// No money, in `currency`.
    public static func zero(_ currency: Currency) -> Money { Money(minorUnits: 0, currency: currency) }

    /// Orders amounts of one currency; mixing currencies is a programming error.
    public static func < (lhs: Money, rhs: Money) -> Bool {
        precondition(lhs.currency == rhs.currency, "money of different currencies is not comparable")
        return lhs.minorUnits < rhs.minorUnits
    }

    /// Adds amounts of one currency.
    public static func + (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "money of different currencies does not add")
        return Money(minorUnits: lhs.minorUnits + rhs.minorUnits, currency: lhs.currency)
    }

    /// Subtracts amounts of one currency.
    public static func - (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "money of different currencies does not subtract")
        return Money(minorUnits: lhs.minorUnits - rhs.minorUnits, currency: lhs.currency)
    }

    /// `amount × count`, exact.
    public func times(_ count: Int64) -> Money { Money(minorUnits: minorUnits * count, currency: currency) }

    /// This amount times a percentage, rounded half-even to the minor unit.
    public func times(_ percentage: Percentage) -> Money {
        Money(
            minorUnits: roundHalfEven(numerator: minorUnits * percentage.millionths, denominator: 1_000_000),
            currency: currency)
    }

    /// Decimal text with exactly `minorDigits` decimals, e.g. `1500.00`.
    public var amountText: String {
        let digits = currency.minorDigits
        // Digits written from the right into one buffer: reports print an amount per breach line.
        // 20 digits of UInt64, a point, the minor digits and a sign.
        return String(unsafeUninitializedCapacity: 22 + digits) { out in
            var a = minorUnits.magnitude
            var i = out.count
            for _ in 0..<digits {
                i -= 1
                out[i] = 0x30 + UInt8(a % 10)
                a /= 10
            }
            if digits > 0 {
                i -= 1
                out[i] = 0x2E
            }
            repeat {
                i -= 1
                out[i] = 0x30 + UInt8(a % 10)
                a /= 10
            } while a > 0
            if minorUnits < 0 {
                i -= 1
                out[i] = 0x2D
            }
            let n = out.count - i
            if i > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: out.baseAddress! + i, byteCount: n) }
            return n
        }
    }

    /// `1500.00 RUB`.
    public var description: String { "\(amountText) \(currency.code)" }

    /// Parses decimal text (`"150000.00"`, `"1000"`) in `currency`; more decimals
    /// than the minor unit has are rejected rather than rounded silently.
    public init?(parsing text: String, currency: Currency) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let intPart = parts.first, !intPart.isEmpty, intPart.allSatisfy(\.isASCIIDigit),
            intPart.count <= 15
        else { return nil }
        var frac = parts.count == 2 ? String(parts[1]) : ""
        guard frac.allSatisfy(\.isASCIIDigit), parts.count == 1 || !frac.isEmpty, frac.count <= currency.minorDigits
        else { return nil }
        frac += String(repeating: "0", count: currency.minorDigits - frac.count)
        self.init(minorUnits: Int64(intPart)! * currency.scale + (frac.isEmpty ? 0 : Int64(frac)!), currency: currency)
    }
}

/// Rounds `numerator / denominator` to the nearest integer, ties to even.
public func roundHalfEven(numerator: Int64, denominator: Int64) -> Int64 {
    precondition(denominator > 0, "positive denominator")
    var q = numerator / denominator
    var r = numerator % denominator
    if r < 0 {
        q -= 1
        r += denominator
    }
    let twice = 2 * r
    if twice > denominator || (twice == denominator && q % 2 != 0) { q += 1 }
    return q
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A percentage held exactly in millionths of the whole (`"99.95%"` = 999 500).
public struct Percentage: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The percentage in millionths of the whole: 100 % = 1 000 000.
    public var millionths: Int64

    /// Creates a percentage from millionths of the whole.
    public init(millionths: Int64) { self.millionths = millionths }

    /// Orders percentages by size.
    public static func < (lhs: Percentage, rhs: Percentage) -> Bool { lhs.millionths < rhs.millionths }

    /// Parses `"99.9%"`, `"50%"`, `"200%"` (up to 4 decimals of a percent).
    public init?(parsing text: String) {
        guard text.hasSuffix("%") else { return nil }
        let number = text.dropLast()
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty, whole.count <= 6,
            whole.allSatisfy(\.isASCIIDigit)
        else { return nil }
        var frac = parts.count == 2 ? String(parts[1]) : ""
        guard frac.allSatisfy(\.isASCIIDigit), frac.count <= 4, parts.count == 1 || !frac.isEmpty else { return nil }
        frac += String(repeating: "0", count: 4 - frac.count)
        millionths = Int64(whole)! * 10_000 + Int64(frac)!
    }

    /// `99.9%` (trailing zeros dropped).
    public var description: String {
        // Whole percents (the usual thresholds) skip the padding: notification ids format one per crossing.
        if millionths % 10_000 == 0 { return "\(millionths / 10_000)%" }
        let whole = millionths / 10_000
        var frac = pad(Int(millionths % 10_000), 4)
        while frac.hasSuffix("0") { frac.removeLast() }
        return frac.isEmpty ? "\(whole)%" : "\(whole).\(frac)%"
    }

    /// `ceil(value × self)`: a threshold is reached no earlier than its exact fraction.
    public func ceilingOf(_ value: Int64) -> Int64 {
        let p = value * millionths
        return p / 1_000_000 + (p % 1_000_000 > 0 ? 1 : 0)
    }

    /// Decodes from text such as `"99.9%"`.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let p = Percentage(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a percentage"))
        }
        self = p
    }

    /// Encodes as text such as `"99.9%"`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
