import ArgumentParser
import CaulkAPI
import Foundation
import Yams

/// `-o table|json|yaml|csv`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, yaml
    /// The table's rows as RFC 4180 CSV (the first row is the header).
    case csv
}

/// Renders results: a readable table by default, or the API's own JSON / the same as YAML.
struct Output {
    let format: OutputFormat

    /// Writes `value` as JSON or YAML, or, for tables, the rows `table` makes of it.
    func emit<T: Encodable>(_ value: T, table: (T) -> [[String]]) throws {
        switch format {
        case .json:
            print(String(decoding: try JSONCoding.encoder(pretty: true).encode(value), as: UTF8.self))
        case .yaml:
            let json = try JSONDecoder().decode(JSONValue.self, from: try JSONCoding.encoder().encode(value))
            print(try Yams.dump(object: json.plain, sortKeys: true), terminator: "")
        case .table:
            let rows = table(value)
            if rows.count > 1 || rows.first.map({ !$0.isEmpty }) == true { print(Self.render(rows)) }
        case .csv:
            // Headings and spacers (rows of one cell) belong to the table, not to the data.
            print(Self.csv(table(value).filter { $0.count > 1 }), terminator: "")
        }
    }

    /// RFC 4180: CRLF line ends; a field with a comma, quote or line break is quoted, its quotes doubled.
    static func csv(_ rows: [[String]]) -> String {
        rows.map { row in
            row.map { field in
                field.unicodeScalars.contains(where: { ",\"\r\n".unicodeScalars.contains($0) })
                    ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
            }.joined(separator: ",") + "\r\n"
        }.joined()
    }

    /// Aligns columns. A row of one cell is a line of its own (a heading) and sets no width.
    static func render(_ rows: [[String]]) -> String {
        var widths = Array(repeating: 0, count: rows.map(\.count).max() ?? 0)
        for row in rows where row.count > 1 { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// Any JSON value, to re-emit the API's JSON as YAML with the same keys.
    enum JSONValue: Decodable {
        case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .bool(value) }
            else if let value = try? container.decode(Int.self) { self = .int(value) }
            else if let value = try? container.decode(Double.self) { self = .double(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
            else { self = .object(try container.decode([String: JSONValue].self)) }
        }

        var plain: Any? {
            switch self {
            case .null: nil
            case .bool(let value): value
            case .int(let value): value
            case .double(let value): value
            case .string(let value): value
            case .array(let values): values.map { $0.plain as Any }
            case .object(let values): values.compactMapValues(\.plain)
            }
        }
    }

    static func date(_ date: Date?) -> String {
        guard let date else { return "-" }
        return date.formatted(.iso8601.year().month().day().dateTimeSeparator(.space).time(includingFractionalSeconds: false))
    }
}
