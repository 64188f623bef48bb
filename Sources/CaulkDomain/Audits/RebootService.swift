import CaulkAPI
import CaulkStore
import Foundation

/// Reboot events: seen by audits (boot id changed) or announced by a node's boot beacon. A boot
/// is recorded once whichever way arrives first (`Store.recordBoot`).
public struct RebootService: Sendable {
    let store: Store
    let metrics: CaulkMetrics
    let clock: @Sendable () -> Date

    public init(store: Store, metrics: CaulkMetrics = CaulkMetrics(), clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.metrics = metrics
        self.clock = clock
    }

    /// A node says it has booted. The caller has checked that the token may speak for it.
    public func announce(cluster: String, node name: String, _ announcement: BootAnnouncement) async throws -> BootRecorded {
        let bootId = announcement.bootId.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard bootId.utf8.count == 36, bootId.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw DomainError.invalid(field: "boot_id", message: "expected the 36-character UUID of /proc/sys/kernel/random/boot_id")
        }
        if let uptime = announcement.uptimeSeconds, !(0...(10 * 365 * 86_400)).contains(uptime) {
            throw DomainError.invalid(field: "uptime_seconds", message: "expected the first field of /proc/uptime")
        }
        guard let node = try await store.node(cluster: cluster, name: name)?.node else {
            throw DomainError.notFound("no node \(name) in cluster \(cluster)")
        }
        let now = clock()
        let event = try await store.recordBoot(
            nodeId: node.id!, bootId: bootId, bootedAt: announcement.uptimeSeconds.map { now.addingTimeInterval(-$0) }, seenAt: now,
            source: "beacon", runId: nil)
        if let event {
            metrics.reboot(source: "beacon")
            await Notifications(store: store, clock: clock).reboot(event)
        }
        return BootRecorded(recorded: event != nil, event: event.map(RebootEvent.init))
    }

    public func list(cluster: String?, node: String?, within: [String]? = nil, paging: Paging) async throws -> Page<RebootEvent> {
        if let cluster { _ = try await store.requireCluster(named: cluster) }
        let records = try await store.rebootEvents(cluster: cluster, node: node, within: within, before: paging.after, limit: paging.limit)
        return Page(items: records.map(RebootEvent.init), nextCursor: paging.nextCursor(lastId: records.last?.id, count: records.count))
    }
}
