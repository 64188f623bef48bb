import Foundation
import GRDB

extension Store {
    public func schedules() async throws -> [ScheduleRecord] {
        try await writer.read { db in try ScheduleRecord.order(ScheduleRecord.Columns.name).fetchAll(db) }
    }

    public func schedule(named name: String) async throws -> ScheduleRecord? {
        try await writer.read { db in try ScheduleRecord.filter(ScheduleRecord.Columns.name == name).fetchOne(db) }
    }

    /// Active schedules whose next run is at or before `date`.
    public func dueSchedules(at date: Date) async throws -> [ScheduleRecord] {
        try await writer.read { db in
            try ScheduleRecord
                .filter(ScheduleRecord.Columns.paused == false && ScheduleRecord.Columns.nextRunAt <= date)
                .order(ScheduleRecord.Columns.nextRunAt)
                .fetchAll(db)
        }
    }

    public func deleteSchedule(id: Int64, activity: ActivityRecord? = nil) async throws -> Bool {
        try await writer.write { db in
            guard try ScheduleRecord.deleteOne(db, key: id) else { return false }
            try Self.record(activity, in: db)
            return true
        }
    }

    public func clusterName(id: Int64) async throws -> String? {
        try await writer.read { db in try String.fetchOne(db, sql: "SELECT name FROM clusters WHERE id = ?", arguments: [id]) }
    }
}
