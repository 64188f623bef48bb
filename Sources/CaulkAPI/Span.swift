/// A length of time as people type it: `90m`, `12h`, `30d`, `8w`.
public enum Span {
    /// The seconds `text` stands for, or nil when it is not a number of up to 4 digits and one of
    /// `units` (m minutes, h hours, d days, w weeks). Where minutes could be read as months
    /// (how far back a report goes), leave m out.
    public static func seconds(_ text: String, units: Set<Character> = ["m", "h", "d", "w"]) -> Int? {
        guard let match = text.wholeMatch(of: /([0-9]{1,4})([mhdw])/), let count = Int(match.1), let unit = match.2.first, units.contains(unit) else {
            return nil
        }
        let seconds = switch unit {
        case "m": 60
        case "h": 3600
        case "d": 86_400
        default: 7 * 86_400
        }
        return count * seconds
    }
}
