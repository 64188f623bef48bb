@testable import CaulkDomain
import Foundation
import Testing

@Suite struct CronExpressionTests {
    private func utc(_ iso: String) -> Date {
        ISO8601DateFormatter().date(from: iso)!
    }

    private func next(_ text: String, after iso: String) throws -> Date? {
        try CronExpression(text).next(after: utc(iso))
    }

    @Test func everyQuarterHourIsStrictlyAfter() throws {
        #expect(try next("*/15 * * * *", after: "2026-03-04T10:07:00Z") == utc("2026-03-04T10:15:00Z"))
        #expect(try next("*/15 * * * *", after: "2026-03-04T10:15:00Z") == utc("2026-03-04T10:30:00Z"))
        #expect(try next("*/15 * * * *", after: "2026-03-04T10:14:59Z") == utc("2026-03-04T10:15:00Z"))
        #expect(try next("*/15 * * * *", after: "2026-03-04T23:50:00Z") == utc("2026-03-05T00:00:00Z"))
    }

    @Test func everyMinute() throws {
        #expect(try next("*/1 * * * *", after: "2026-03-04T10:07:30Z") == utc("2026-03-04T10:08:00Z"))
        #expect(try next("* * * * *", after: "2026-03-04T10:07:00Z") == utc("2026-03-04T10:08:00Z"))
    }

    @Test func midnightCrossesMonthAndYear() throws {
        #expect(try next("0 0 * * *", after: "2026-12-31T23:59:00Z") == utc("2027-01-01T00:00:00Z"))
        #expect(try next("0 0 * * *", after: "2026-04-30T12:00:00Z") == utc("2026-05-01T00:00:00Z"))
    }

    @Test func restrictedDayFieldsMatchEither() throws {
        // 2026-03-02 and 2026-03-30 are Mondays; 2026-04-01 is a Wednesday.
        #expect(try next("0 12 1 * MON", after: "2026-03-01T12:00:00Z") == utc("2026-03-02T12:00:00Z"))
        #expect(try next("0 12 1 * MON", after: "2026-03-30T12:00:00Z") == utc("2026-04-01T12:00:00Z"))
        let cron = try CronExpression("0 12 1 * MON")
        #expect(cron.matches(utc("2026-04-01T12:00:30Z")))
        #expect(cron.matches(utc("2026-03-02T12:00:00Z")))
        #expect(!cron.matches(utc("2026-04-02T12:00:00Z")))
        #expect(!cron.matches(utc("2026-03-02T12:01:00Z")))
    }

    @Test func starredDayFieldMeansBothMustMatch() throws {
        #expect(try next("0 12 1 * *", after: "2026-03-01T12:00:00Z") == utc("2026-04-01T12:00:00Z"))
        #expect(try next("0 12 * * MON", after: "2026-03-30T12:00:00Z") == utc("2026-04-06T12:00:00Z"))
        // Like Vixie cron, a field starting with `*` is unrestricted, so this wants an odd day that is a Monday.
        #expect(try next("0 12 */2 * MON", after: "2026-03-30T12:00:00Z") == utc("2026-04-13T12:00:00Z"))
    }

    @Test func leapDayAndImpossibleDates() throws {
        #expect(try next("0 0 29 2 *", after: "2027-03-01T00:00:00Z") == utc("2028-02-29T00:00:00Z"))
        #expect(try next("0 0 30 2 *", after: "2027-03-01T00:00:00Z") == nil)
        #expect(try next("0 0 31 4,6,9,11 *", after: "2027-03-01T00:00:00Z") == nil)
    }

    @Test func namesAndSundayAsSeven() throws {
        // 2026-03-08 is a Sunday.
        #expect(try next("0 9 * jan-mar sun", after: "2026-03-04T10:00:00Z") == utc("2026-03-08T09:00:00Z"))
        #expect(try next("0 9 * * 7", after: "2026-03-04T10:00:00Z") == utc("2026-03-08T09:00:00Z"))
        #expect(try next("0 9 * * 0", after: "2026-03-04T10:00:00Z") == utc("2026-03-08T09:00:00Z"))
        #expect(try next("0 9 * * 5-7", after: "2026-03-07T10:00:00Z") == utc("2026-03-08T09:00:00Z"))
        #expect(try next("0 9 * * Sat-7", after: "2026-03-05T10:00:00Z") == utc("2026-03-07T09:00:00Z"))
        #expect(try next("0 0 1 DEC *", after: "2026-03-04T10:00:00Z") == utc("2026-12-01T00:00:00Z"))
    }

    @Test(arguments: [
        ("@hourly", "2026-03-04T11:00:00Z"), ("@daily", "2026-03-05T00:00:00Z"), ("@midnight", "2026-03-05T00:00:00Z"),
        ("@weekly", "2026-03-08T00:00:00Z"), ("@monthly", "2026-04-01T00:00:00Z"), ("@yearly", "2027-01-01T00:00:00Z"),
        ("@ANNUALLY", "2027-01-01T00:00:00Z"),
    ])
    func macros(_ text: String, _ expected: String) throws {
        #expect(try next(text, after: "2026-03-04T10:07:00Z") == utc(expected))
        #expect(try CronExpression(text).description == text)
    }

    @Test func rangesStepsAndLists() throws {
        #expect(try next("10-20/5 * * * *", after: "2026-03-04T10:10:00Z") == utc("2026-03-04T10:15:00Z"))
        #expect(try next("10-20/5 * * * *", after: "2026-03-04T10:20:00Z") == utc("2026-03-04T11:10:00Z"))
        #expect(try next("50/5 * * * *", after: "2026-03-04T10:56:00Z") == utc("2026-03-04T11:50:00Z"))
        #expect(try next("5,*/20,40-41 * * * *", after: "2026-03-04T10:40:00Z") == utc("2026-03-04T10:41:00Z"))
        #expect(try next("5,*/20,40-41 * * * *", after: "2026-03-04T10:41:00Z") == utc("2026-03-04T11:00:00Z"))
    }

    @Test func hugeNumbersAreRefusedOrHarmless() throws {
        #expect(throws: CronError(message: "cron '99999999999999999999 * * * *': minute 99999999999999999999 is out of range 0-59")) {
            try CronExpression("99999999999999999999 * * * *")
        }
        #expect(throws: CronError(message: "cron '0 0-99999999999999999999 * * *': hour 99999999999999999999 is out of range 0-23")) {
            try CronExpression("0 0-99999999999999999999 * * *")
        }
        // A step past the field's end keeps the first value only, however large (no overflow).
        #expect(try next("*/99999999999999999999 * * * *", after: "2026-03-04T10:07:00Z") == utc("2026-03-04T11:00:00Z"))
        #expect(try next("59/9223372036854775807 * * * *", after: "2026-03-04T10:07:00Z") == utc("2026-03-04T10:59:00Z"))
        #expect(try next("0 0 1-31/9223372036854775807 * *", after: "2026-03-04T10:07:00Z") == utc("2026-04-01T00:00:00Z"))
    }

    @Test func nextFireAtTheEndsOfTime() throws {
        let cron = try CronExpression("0 0 29 2 *")
        for start in [Date.distantPast, .distantFuture, Date(timeIntervalSince1970: .nan), Date(timeIntervalSince1970: .infinity),
                      Date(timeIntervalSince1970: -.infinity), Date(timeIntervalSince1970: 1e18), Date(timeIntervalSince1970: -1e18)] {
            if let fire = cron.next(after: start) {
                #expect(fire > start && cron.matches(fire), "\(start) → \(fire)")
            }
        }
        #expect(cron.next(after: Date(timeIntervalSince1970: .nan)) == nil)
        #expect(cron.next(after: .distantFuture) == utc("4004-02-29T00:00:00Z"))
    }

    @Test func keepsTheOriginalText() throws {
        let cron = try CronExpression("0 12 1 * MON")
        #expect(cron.description == "0 12 1 * MON")
        #expect(cron == (try CronExpression("0 12 1 * MON")))
    }

    @Test(arguments: [
        ("*/0 * * * *", "minute step must be at least 1"),
        ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 3"),
        ("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
        ("0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6; a seconds field is not supported"),
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week 8 is out of range 0-7"),
        ("5-3 * * * *", "minute range 5-3 runs backwards; write the lower value first"),
        ("0 9 * * SAT-SUN", "day-of-week range SAT-SUN runs backwards; write the lower value first (Sunday is 0 or 7)"),
        ("1,,2 * * * *", "minute '1,,2' has an empty list entry"),
        ("*/x * * * *", "minute step 'x' is not a number"),
        ("1/2/3 * * * *", "minute '1/2/3' has more than one step; expected a/n, a-b/n or */n"),
        ("-5 * * * *", "minute '-5' is not a value or a range a-b"),
        ("* * * FOO *", "month 'FOO' is not valid; expected a number or a name JAN-DEC"),
        ("a * * * *", "minute 'a' is not valid; expected a number"),
        ("* * L * *", "day-of-month 'L' uses ?, L, W or #, which are not supported; use numbers, ranges, steps and lists"),
        ("* * 15W * *", "day-of-month '15W' uses ?, L, W or #, which are not supported; use numbers, ranges, steps and lists"),
        ("* * ? * *", "day-of-month '?' uses ?, L, W or #, which are not supported; use numbers, ranges, steps and lists"),
        ("* * * * 5#2", "day-of-week '5#2' uses ?, L, W or #, which are not supported; use numbers, ranges, steps and lists"),
        ("@fortnightly", "unknown macro @fortnightly; expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually"),
        ("@reboot", "unknown macro @reboot; expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually"),
    ])
    func refusesWithAnExplanation(_ text: String, _ problem: String) {
        #expect(throws: CronError(message: "cron '\(text)': \(problem)")) { try CronExpression(text) }
    }
}
