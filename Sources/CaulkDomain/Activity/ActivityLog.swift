import CaulkAPI
import CaulkStore
import Foundation

/// The activity log: who changed what. Services make an entry for each change and hand it to
/// the store with the change, so both land in one transaction or neither does.
public struct ActivityLog: Sendable {
    let store: Store
    let clock: @Sendable () -> Date

    public init(store: Store, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.clock = clock
    }

    /// Newest first. `since`: how long ago (12h, 30d, 8w) or a date; `action`: one action or a
    /// kind of thing (`token`).
    public func list(since: String?, actor: String?, cluster: String?, action: String?, paging: Paging) async throws -> Page<Activity> {
        var filter = ActivityFilter()
        if let since { filter.since = try ReportService.time(since, field: "since", now: clock()) }
        if let actor {
            guard !actor.isEmpty, actor.utf8.count <= 200 else { throw DomainError.invalid(field: "actor", message: "is a token name as caulk tokens list shows it") }
            filter.actor = actor
        }
        if let cluster { filter.cluster = try Validate.name(cluster, field: "cluster") }
        if let action {
            let known = Set(ActivityAction.allCases.flatMap { [$0.rawValue, $0.subject] })
            guard known.contains(action) else {
                throw DomainError.invalid(
                    field: "action", message: "'\(action)' is not an action; use one of \(ActivityAction.allCases.map(\.rawValue).joined(separator: ", ")) or the part before the dot")
            }
            filter.action = action
        }
        let records = try await store.activity(filter, before: paging.after, limit: paging.limit)
        return Page(items: records.map(Activity.init), nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }

    /// An entry for a change `actor` is making now.
    func entry(
        _ actor: String, _ action: ActivityAction, cluster: String?, target: String, before: [String: String]? = nil, after: [String: String]? = nil
    ) -> ActivityRecord {
        ActivityRecord(
            at: clock(), actor: actor, action: action.rawValue, cluster: cluster, target: target, before: before.map(Self.text),
            after: after.map(Self.text))
    }

    /// An update's entry: only the fields that changed, before and after.
    func change(_ actor: String, _ action: ActivityAction, cluster: String?, target: String, from old: [String: String], to new: [String: String])
        -> ActivityRecord
    {
        let keys = Set(old.keys).union(new.keys).filter { old[$0] != new[$0] }
        return entry(
            actor, action, cluster: cluster, target: target, before: old.filter { keys.contains($0.key) }, after: new.filter { keys.contains($0.key) })
    }

    /// A wire value's fields as `dotted.key` → text, the way an entry shows them; `leaving` out
    /// what changes on its own (counts, times something was seen).
    static func fields(_ value: some Encodable, leaving skipped: Set<String> = []) -> [String: String] {
        guard let data = try? JSONCoding.encoder().encode(value), let tree = try? JSONDecoder().decode(JSONTree.self, from: data) else { return [:] }
        var fields: [String: String] = [:]
        func flatten(_ tree: JSONTree, _ key: String) {
            guard !skipped.contains(key) else { return }
            switch tree {
            case .object(let members):
                for (name, inner) in members { flatten(inner, key.isEmpty ? name : "\(key).\(name)") }
            case .null:
                break
            case .scalar(let text):
                fields[key] = text
            case .array:
                fields[key] = tree.json
            }
        }
        flatten(tree, "")
        return fields
    }

    static func text(_ fields: [String: String]) -> String {
        (try? JSONCoding.encoder().encode(fields)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension Activity {
    init(_ record: ActivityRecord) {
        func fields(_ text: String?) -> [String: String]? {
            text.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        }
        self.init(
            id: record.id!, at: record.at, actor: record.actor, action: record.action,
            cluster: record.cluster, target: record.target, before: fields(record.before), after: fields(record.after))
    }
}

/// Any JSON value, to flatten a wire value into fields.
private indirect enum JSONTree: Decodable {
    case object([String: JSONTree])
    case array([JSONTree])
    case scalar(String)
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .scalar(value ? "true" : "false")
        } else if let value = try? container.decode(Int64.self) {
            self = .scalar(String(value))
        } else if let value = try? container.decode(Double.self) {
            self = .scalar(String(value))
        } else if let value = try? container.decode(String.self) {
            self = .scalar(value)
        } else if let value = try? container.decode([JSONTree].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONTree].self))
        }
    }

    /// Compact JSON text, members sorted.
    var json: String {
        switch self {
        case .object(let members): "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value.json)" }.joined(separator: ",") + "}"
        case .array(let items): "[" + items.map(\.json).joined(separator: ",") + "]"
        case .scalar(let text): "\"\(text)\""
        case .null: "null"
        }
    }
}
