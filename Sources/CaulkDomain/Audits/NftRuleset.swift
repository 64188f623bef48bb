import Foundation

/// The rules of `nft -j list ruleset` that could drop VXLAN, read without building the whole
/// document: kube-proxy in nftables mode on a big cluster gives 20,000 rules (8 MB of JSON), and
/// Foundation's object graph of that costs seconds and over 100 MB per node. The top-level list
/// is split by a byte scanner that knows strings and nesting; only `rule` entries that say `drop`
/// or `reject` are parsed, one small object at a time.
enum NftRuleset {
    /// The candidate rule entries (`{"rule": {…}}`), or nil when the text is not an nftables
    /// JSON document (`{"nftables": [ … ]}` with balanced nesting).
    static func dropOrRejectRules(_ text: String) -> [[String: Any]]? {
        let bytes = Array(text.utf8)
        guard let head = find(Array(#""nftables""#.utf8), in: bytes[...]) else { return nil }
        var rules: [[String: Any]] = []
        var depth = 0
        var inString = false
        var escaped = false
        var elementStart: Int?
        var sawArray = false
        for index in bytes.indices {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth == 2, byte == UInt8(ascii: "["), index > head { sawArray = true }
                if depth == 3, byte == UInt8(ascii: "{") { elementStart = index }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 3, byte == UInt8(ascii: "}"), let start = elementStart {
                    let element = bytes[start...index]
                    if isRule(element), find(drop, in: element) != nil || find(reject, in: element) != nil {
                        guard let object = try? JSONSerialization.jsonObject(with: Data(element)) as? [String: Any] else { return nil }
                        rules.append(object)
                    }
                    elementStart = nil
                }
                depth -= 1
                guard depth >= 0 else { return nil }
            default:
                continue
            }
        }
        return depth == 0 && !inString && sawArray ? rules : nil
    }

    private static let drop = Array(#""drop""#.utf8)
    private static let reject = Array(#""reject""#.utf8)
    private static let rulePrefix = Array(#""rule""#.utf8)

    /// `{"rule": …`, allowing blanks after the brace.
    private static func isRule(_ element: ArraySlice<UInt8>) -> Bool {
        let body = element.dropFirst().drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") }
        return body.starts(with: rulePrefix)
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
