import ArgumentParser
import CaulkAPI
import Foundation

struct ActivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity",
        abstract: "Who changed what, newest first (admin).",
        discussion: """
            Every change is recorded with the change itself: clusters and nodes (and imports),
            host keys trusted or re-pinned, tokens created and revoked, schedules, auto-repair
            policies, beacons revoked, purges, and the runs people started or cancelled. Runs
            that schedules and auto-repair start are in caulk runs list instead.

            CHANGE shows what an update changed (field: before → after), what a create set, or
            what a delete removed; -o json has every field.

            Actions: \(ActivityAction.allCases.map(\.rawValue).joined(separator: ", ")).

            Examples:
              caulk activity --since 24h
              caulk activity --actor alice --action token
              caulk activity --cluster prod-a --since 2026-11-01
            """
    )
    @OptionGroup var options: ClientOptions
    @Option(help: ArgumentHelp("Only since then: how long ago (12h, 30d, 8w) or a date.", valueName: "time")) var since: String?
    @Option(help: "Only what this token name did.") var actor: String?
    @Option(help: "Only what concerns this cluster.") var cluster: String?
    @Option(help: ArgumentHelp("Only this action, or a kind of thing (token, node, run…).", valueName: "action")) var action: String?
    @Option(help: "At most this many.") var limit: Int = 100

    func run() async throws {
        var query: [(String, String)] = []
        if let since { query.append(("since", since)) }
        if let actor { query.append(("actor", actor)) }
        if let cluster { query.append(("cluster", cluster)) }
        if let action { query.append(("action", action)) }
        let entries = try await options.client().all("/v1/activity", query: query, limit: limit, as: Activity.self)
        try options.out.emit(entries) { entries in
            [["AT", "ACTOR", "ACTION", "TARGET", "CHANGE"]]
                + entries.map { [Output.date($0.at), $0.actor, $0.action, $0.target, Self.change($0)] }
        }
    }

    /// `field: before → after` for each field an entry names, in field order.
    static func change(_ entry: Activity) -> String {
        let before = entry.before ?? [:]
        let after = entry.after ?? [:]
        let text = Set(before.keys).union(after.keys).sorted().map { key in
            switch (before[key], after[key]) {
            case (let old?, let new?): "\(key): \(old) → \(new)"
            case (let old?, nil): entry.after == nil ? "\(key)=\(old)" : "\(key): \(old) → -"
            case (nil, let new?): entry.before == nil ? "\(key)=\(new)" : "\(key): - → \(new)"
            case (nil, nil): key
            }
        }.joined(separator: "; ")
        if text.isEmpty { return "-" }
        return text.count > 160 ? text.prefix(157) + "…" : text
    }
}
