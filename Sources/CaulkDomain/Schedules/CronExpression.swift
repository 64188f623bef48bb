import Foundation

/// A refused cron expression; `message` names the expression, what is wrong and what is expected.
public struct CronError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week) evaluated in UTC.
///
/// Fields take `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a` to the field's maximum),
/// and comma lists of those. Months accept `JAN`–`DEC` and days of the week `SUN`–`SAT`; day-of-week 0 and 7
/// are both Sunday. The macros `@hourly`, `@daily`/`@midnight`, `@weekly`, `@monthly` and `@yearly`/`@annually`
/// are accepted. As in Vixie cron, when both day fields are restricted a day matches if either one does.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    private let text: String
    private let minutes: UInt64
    private let hours: UInt64
    private let daysOfMonth: UInt64
    private let months: UInt64
    private let daysOfWeek: UInt64
    // Vixie cron treats a day field that starts with `*` as unrestricted, even with a step.
    private let eitherDay: Bool

    /// The expression exactly as written.
    public var description: String { text }

    /// Parses and validates `text`, throwing a `CronError` that says what is wrong and what is expected.
    public init(_ text: String) throws(CronError) {
        self.text = text
        let fail = { (problem: String) in CronError(message: "cron '\(text)': \(problem)") }
        var fields = text.split(whereSeparator: \.isWhitespace)
        if fields.count == 1, fields[0].hasPrefix("@") {
            guard let expansion = Self.macros[fields[0].lowercased()] else {
                throw fail("unknown macro \(fields[0]); expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually")
            }
            fields = expansion.split(separator: " ")
        }
        guard fields.count == 5 else {
            let hint = fields.count == 6 ? "; a seconds field is not supported" : ""
            throw fail("expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count)\(hint)")
        }
        minutes = try Self.mask(fields[0], Field(name: "minute", min: 0, max: 59), fail)
        hours = try Self.mask(fields[1], Field(name: "hour", min: 0, max: 23), fail)
        daysOfMonth = try Self.mask(fields[2], Field(name: "day-of-month", min: 1, max: 31), fail)
        months = try Self.mask(fields[3], Field(name: "month", min: 1, max: 12, names: Self.monthNames, namesStart: 1), fail)
        let week = try Self.mask(fields[4], Field(name: "day-of-week", min: 0, max: 7, names: Self.dayNames, namesStart: 0), fail)
        daysOfWeek = week & 0x7F | (week >> 7 & 1)
        eitherDay = !fields[2].hasPrefix("*") && !fields[4].hasPrefix("*")
    }

    /// The first minute boundary strictly after `date` that matches, or nil if none falls within about 5 years.
    public func next(after date: Date) -> Date? {
        guard let minute = Self.minuteIndex(date) else { return nil }
        let start = minute + 1
        var (year, month, day) = Self.civil(days: Self.floorDiv(start, 1440))
        var hour = (start - Self.floorDiv(start, 1440) * 1440) / 60
        var minuteOfHour = start - Self.floorDiv(start, 60) * 60
        let lastYear = year + 5
        while year <= lastYear {
            if months & 1 << month == 0 || day > Self.daysIn(year, month) {
                (month, day, hour, minuteOfHour) = (month + 1, 1, 0, 0)
                if month > 12 { (year, month) = (year + 1, 1) }
            } else if !dayMatches(year, month, day) {
                (day, hour, minuteOfHour) = (day + 1, 0, 0)
            } else if let matchingHour = Self.first(hours, from: hour) {
                if matchingHour != hour { (hour, minuteOfHour) = (matchingHour, 0) }
                if let matchingMinute = Self.first(minutes, from: minuteOfHour) {
                    let index = Self.days(year, month, day) * 1440 + hour * 60 + matchingMinute
                    return Date(timeIntervalSince1970: Double(index) * 60)
                }
                (hour, minuteOfHour) = (hour + 1, 0)
            } else {
                (day, hour, minuteOfHour) = (day + 1, 0, 0)
            }
        }
        return nil
    }

    /// Whether the minute containing `date` matches the expression.
    public func matches(_ date: Date) -> Bool {
        guard let minute = Self.minuteIndex(date) else { return false }
        let (year, month, day) = Self.civil(days: Self.floorDiv(minute, 1440))
        let minuteOfDay = minute - Self.floorDiv(minute, 1440) * 1440
        return months & 1 << month != 0 && dayMatches(year, month, day)
            && hours & 1 << (minuteOfDay / 60) != 0 && minutes & 1 << (minuteOfDay % 60) != 0
    }

    private func dayMatches(_ year: Int, _ month: Int, _ day: Int) -> Bool {
        let weekday = (Self.days(year, month, day) % 7 + 11) % 7  // 1970-01-01 was a Thursday
        let byMonth = daysOfMonth & 1 << day != 0
        let byWeek = daysOfWeek & 1 << weekday != 0
        return eitherDay ? byMonth || byWeek : byMonth && byWeek
    }

    private struct Field {
        var name: String
        var min: Int
        var max: Int
        var names: [String] = []
        var namesStart = 0
    }

    private static let macros = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]
    private static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    private static func mask(_ text: Substring, _ field: Field, _ fail: (String) -> CronError) throws(CronError) -> UInt64 {
        var mask: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw fail("\(field.name) '\(text)' has an empty list entry") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw fail("\(field.name) '\(item)' has more than one step; expected a/n, a-b/n or */n") }
            var step = 1
            if parts.count == 2 {
                guard isNumber(parts[1]) else { throw fail("\(field.name) step '\(parts[1])' is not a number") }
                // A step past the field's end keeps only the first value, however large it is.
                step = Int(parts[1]) ?? Int.max
                guard step >= 1 else { throw fail("\(field.name) step must be at least 1") }
            }
            var (low, high) = (field.min, field.max)
            if parts[0] != "*" {
                let ends = parts[0].split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2, !ends.contains(where: \.isEmpty) else { throw fail("\(field.name) '\(parts[0])' is not a value or a range a-b") }
                low = try value(ends[0], field, fail)
                high = try ends.count == 2 ? value(ends[1], field, fail) : parts.count == 2 ? field.max : low
                guard low <= high else {
                    let hint = field.max == 7 ? " (Sunday is 0 or 7)" : ""
                    throw fail("\(field.name) range \(parts[0]) runs backwards; write the lower value first\(hint)")
                }
            }
            for v in stride(from: low, through: high, by: step) { mask |= 1 << v }
        }
        return mask
    }

    private static func value(_ token: Substring, _ field: Field, _ fail: (String) -> CronError) throws(CronError) -> Int {
        if isNumber(token) {
            guard let n = Int(token), (field.min...field.max).contains(n) else { throw fail("\(field.name) \(token) is out of range \(field.min)-\(field.max)") }
            return n
        }
        if let index = field.names.firstIndex(of: token.uppercased()) { return field.namesStart + index }
        let rest = token.uppercased().filter { !$0.isNumber }
        if token.contains("#") || ["?", "L", "W", "LW"].contains(rest) {
            throw fail("\(field.name) '\(token)' uses ?, L, W or #, which are not supported; use numbers, ranges, steps and lists")
        }
        let expected = field.names.isEmpty ? "a number" : "a number or a name \(field.names.first!)-\(field.names.last!)"
        throw fail("\(field.name) '\(token)' is not valid; expected \(expected)")
    }

    private static func isNumber(_ token: Substring) -> Bool {
        !token.isEmpty && token.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func first(_ mask: UInt64, from bit: Int) -> Int? {
        let rest = mask >> bit
        return rest == 0 ? nil : bit + rest.trailingZeroBitCount
    }

    private static func minuteIndex(_ date: Date) -> Int? {
        let minutes = (date.timeIntervalSince1970 / 60).rounded(.down)
        return minutes.magnitude < 1e15 ? Int(minutes) : nil
    }

    private static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    private static func daysIn(_ year: Int, _ month: Int) -> Int {
        if month == 2 { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28 }
        return [4, 6, 9, 11].contains(month) ? 30 : 31
    }

    // Howard Hinnant's days-from-civil and its inverse: exact proleptic Gregorian arithmetic, no Calendar needed.
    private static func days(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        return era * 146_097 + yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear - 719_468
    }

    private static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        let month = shifted < 10 ? shifted + 3 : shifted - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - (153 * shifted + 2) / 5 + 1)
    }
}
