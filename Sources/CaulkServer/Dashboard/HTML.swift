import Foundation

/// Building blocks of server-rendered pages: escaping, and bar charts as inline SVG.
enum HTML {
    /// Text and attribute values, escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// One bar series (or stacked series) over labelled columns.
    struct BarChart {
        struct Series {
            var name: String
            var color: String
            /// One per label; nil: nothing known (no bar, unlike 0).
            var values: [Double?]
        }

        var title: String
        var labels: [String]
        var series: [Series]
        /// Formats a value for the axis and the bars' tooltips.
        var format: (Double) -> String = { String(Int($0.rounded())) }
        /// The axis never ends below this (counts: 2, so its middle line is a whole number).
        var minimumTop = 2.0

        static let width = 560.0, height = 200.0, left = 48.0, bottom = 28.0, top = 12.0

        /// The axis' top: 2, 4 or 10 times a power of ten, at least `value`, so that its half
        /// (the middle grid line) is a round number too.
        static func niceMaximum(_ value: Double) -> Double {
            guard value > 0 else { return 2 }
            let magnitude = pow(10, floor(log10(value)))
            return [1.0, 2, 4, 10].map { $0 * magnitude }.first { $0 >= value } ?? 10 * magnitude
        }

        var svg: String {
            let plotWidth = Self.width - Self.left - 8, plotHeight = Self.height - Self.bottom - Self.top
            let totals = labels.indices.map { index in series.reduce(0.0) { $0 + ($1.values[safe: index].flatMap { $0 } ?? 0) } }
            let maximum = max(Self.niceMaximum(totals.max() ?? 0), minimumTop)
            let slot = plotWidth / Double(max(labels.count, 1))
            var parts = [
                "<svg class=\"chart\" role=\"img\" aria-label=\"\(HTML.escape(title))\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" xmlns=\"http://www.w3.org/2000/svg\">",
                "<title>\(HTML.escape(title))</title>",
            ]
            // Three grid lines with their values.
            for step in 0...2 {
                let value = maximum * Double(step) / 2
                let y = Self.top + plotHeight - plotHeight * Double(step) / 2
                parts.append("<line x1=\"\(Self.left)\" x2=\"\(Self.width - 8)\" y1=\"\(y)\" y2=\"\(y)\" class=\"grid\"/>")
                parts.append("<text x=\"\(Self.left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\" class=\"axis\">\(HTML.escape(format(value)))</text>")
            }
            for (index, label) in labels.enumerated() {
                let x = Self.left + slot * Double(index) + slot * 0.15
                var base = Self.top + plotHeight
                for serie in series {
                    guard let value = serie.values[safe: index].flatMap({ $0 }), value > 0 else { continue }
                    let barHeight = plotHeight * value / maximum
                    base -= barHeight
                    parts.append(
                        "<rect x=\"\(x)\" y=\"\(base)\" width=\"\(slot * 0.7)\" height=\"\(barHeight)\" fill=\"\(serie.color)\"><title>\(HTML.escape("\(label): \(format(value)) \(serie.name)"))</title></rect>")
                }
                if index % 2 == labels.count % 2 || labels.count <= 6 {
                    parts.append("<text x=\"\(x + slot * 0.35)\" y=\"\(Self.height - 10)\" text-anchor=\"middle\" class=\"axis\">\(HTML.escape(String(label.suffix(5))))</text>")
                }
            }
            if totals.allSatisfy({ $0 == 0 }) {
                parts.append("<text x=\"\(Self.left + plotWidth / 2)\" y=\"\(Self.top + plotHeight / 2)\" text-anchor=\"middle\" class=\"axis\">nothing recorded in these weeks</text>")
            }
            parts.append("</svg>")
            if series.count > 1 {
                parts.append("<div class=\"legend\">" + series.map { "<span><i style=\"background:\($0.color)\"></i>\(HTML.escape($0.name))</span>" }.joined() + "</div>")
            }
            return parts.joined(separator: "\n")
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
