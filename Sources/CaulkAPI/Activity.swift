import Foundation

/// What a change did, as `noun.verb`. `run.start` is a run someone started (from the CLI or the
/// API); what schedules and auto-repair start is in the run history, not here.
public enum ActivityAction: String, Codable, Sendable, CaseIterable {
    case clusterCreate = "cluster.create", clusterUpdate = "cluster.update", clusterDelete = "cluster.delete"
    case nodeCreate = "node.create", nodeUpdate = "node.update", nodeDelete = "node.delete"
    /// A node's host key pinned or re-pinned (`caulk nodes trust`).
    case nodeTrust = "node.trust"
    case inventoryImport = "inventory.import"
    case tokenCreate = "token.create", tokenRevoke = "token.revoke"
    case scheduleCreate = "schedule.create", scheduleUpdate = "schedule.update", scheduleDelete = "schedule.delete"
    case autoRepairUpdate = "auto-repair.update"
    case beaconRevoke = "beacon.revoke"
    case runStart = "run.start", runCancel = "run.cancel"
    case retentionPurge = "retention.purge"
    case webhookCreate = "webhook.create", webhookDelete = "webhook.delete"

    /// The kind of thing acted on: `token` for `token.create`.
    public var subject: String { String(rawValue.prefix { $0 != "." }) }
}

/// One entry of the activity log (`GET /v1/activity`, `caulk activity`).
public struct Activity: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    /// The token's name, or `local` for `caulk tokens create --local`.
    public var actor: String
    /// One of `ActivityAction`'s values.
    public var action: String
    public var cluster: String?
    /// What was acted on: a cluster, `cluster/node`, a token or schedule name, `run 42`.
    public var target: String
    /// The fields that matter before and after: for an update only those that changed; a
    /// create has only `after`, a delete only `before`.
    public var before: [String: String]?
    public var after: [String: String]?

    public init(
        id: Int64, at: Date, actor: String, action: String, cluster: String?, target: String, before: [String: String]?,
        after: [String: String]?
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.cluster = cluster
        self.target = target
        self.before = before
        self.after = after
    }
}
