import Foundation
import SLACore
import TestSupport
import Testing

@Suite("Money and percentages")
struct MoneyTests {
    let rub = Currency(code: "RUB")!
    let jpy = Currency(code: "JPY")!
    let kwd = Currency(code: "KWD")!

    @Test("half-even rounding")
    func halfEven() {
        #expect(roundHalfEven(numerator: 25, denominator: 10) == 2)
        #expect(roundHalfEven(numerator: 35, denominator: 10) == 4)
        #expect(roundHalfEven(numerator: 26, denominator: 10) == 3)
        #expect(roundHalfEven(numerator: -25, denominator: 10) == -2)
        #expect(roundHalfEven(numerator: -26, denominator: 10) == -3)
        // 12.5 % of 0.05 = 0.00625 → 0.01 (0.625 minor units rounds up)
        #expect(Money(minorUnits: 5, currency: rub).times(Percentage(parsing: "12.5%")!).minorUnits == 1)
        // 10 % of 0.05 = 0.005 → tie → 0.00 (even)
        #expect(Money(minorUnits: 5, currency: rub).times(Percentage(parsing: "10%")!).minorUnits == 0)
        // 10 % of 0.15 = 0.015 → tie → 0.02 (even)
        #expect(Money(minorUnits: 15, currency: rub).times(Percentage(parsing: "10%")!).minorUnits == 2)
    }

    @Test("amounts parse exactly per currency and print with the minor digits")
    func parsing() {
        #expect(Money(parsing: "150000.00", currency: rub)?.minorUnits == 15_000_000)
        #expect(Money(parsing: "1000", currency: rub)?.amountText == "1000.00")
        #expect(Money(parsing: "1000", currency: jpy)?.amountText == "1000")
        #expect(Money(parsing: "1.5", currency: jpy) == nil)
        #expect(Money(parsing: "0.125", currency: kwd)?.amountText == "0.125")
        #expect(Money(minorUnits: -5, currency: rub).amountText == "-0.05")
        #expect(Money(minorUnits: 0, currency: rub).amountText == "0.00")
        #expect(Money(minorUnits: -1_000, currency: jpy).amountText == "-1000")
        #expect(Money(minorUnits: Int64.min, currency: rub).amountText == "-92233720368547758.08")
        #expect(Money(minorUnits: Int64.max, currency: kwd).amountText == "9223372036854775.807")
        var rng = SeededRandom(seed: 5)
        for _ in 0..<10_000 {
            let minor = Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng)
            let text = Money(minorUnits: minor, currency: rub).amountText
            #expect(text == String(format: "%@%lld.%02lld", minor < 0 ? "-" : "", abs(minor) / 100, abs(minor) % 100))
            #expect(
                Money(parsing: text.hasPrefix("-") ? String(text.dropFirst()) : text, currency: rub)?.minorUnits
                    == abs(minor))
        }
        for bad in ["", "1,000.00", "1.001", "-5", "1e3", ".5", "5.", "abc"] {
            #expect(Money(parsing: bad, currency: rub) == nil, "\(bad) must not parse")
        }
        #expect(Currency(code: "RUR") == nil)
        #expect(Money(minorUnits: -150, currency: rub).description == "-1.50 RUB")
    }

    @Test("percentages are exact millionths")
    func percentages() {
        #expect(Percentage(parsing: "99.9%")?.millionths == 999_000)
        #expect(Percentage(parsing: "99.95%")?.description == "99.95%")
        #expect(Percentage(parsing: "200%")?.millionths == 2_000_000)
        #expect(Percentage(parsing: "99.9") == nil)
        #expect(Percentage(parsing: "1.23456%") == nil)
        #expect(Percentage(parsing: "50%")!.ceilingOf(15 * 60) == 450)
        #expect(Percentage(parsing: "80%")!.ceilingOf(7) == 6)  // 5.6 → 6: never early
    }
}
