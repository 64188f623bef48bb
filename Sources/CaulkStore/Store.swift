import Foundation
import GRDB

/// The SQLite database: opening, configuration and schema migrations.
///
/// GRDB serialises writes on one connection and runs reads on a small pool, each on its own
/// dispatch queue, so no SQLite call ever blocks Swift's cooperative thread pool.
public struct Store: Sendable {
    public let writer: any DatabaseWriter
    /// Where the database lives, or `:memory:`.
    public let path: String

    /// Opens (creating if needed) the database file at `path`: WAL, foreign keys, busy timeout,
    /// then applies pending migrations. Refuses a database written by a newer caulk.
    public static func open(path: String, busyTimeout: TimeInterval = 5) throws(StoreError) -> Store {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen(path: path, reason: "cannot create its directory: \(error.localizedDescription)")
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(busyTimeout)
        configuration.journalMode = .wal
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
        let store = Store(writer: pool, path: path)
        try store.migrate()
        return store
    }

    /// A private in-memory database with the full schema, for tests.
    public static func inMemory() throws(StoreError) -> Store {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(configuration: configuration)
        } catch {
            throw .cannotOpen(path: ":memory:", reason: "\(error)")
        }
        let store = Store(writer: queue, path: ":memory:")
        try store.migrate()
        return store
    }

    init(writer: any DatabaseWriter, path: String) {
        self.writer = writer
        self.path = path
    }

    /// True for a UNIQUE, CHECK or foreign-key failure: a write that lost to the rules of the schema.
    public static func isConstraintViolation(_ error: any Error) -> Bool {
        (error as? DatabaseError)?.resultCode == .SQLITE_CONSTRAINT
    }

    /// Migration ids this binary knows, in order.
    public static var knownMigrations: [String] { Migrations.all.map(\.id) }

    /// Migration ids recorded in the database, in the order applied.
    public func appliedMigrations() async throws -> [String] {
        try await writer.read { db in try Migrations.migrator().appliedMigrations(db) }
    }

    func migrate() throws(StoreError) {
        let migrator = Migrations.migrator()
        do {
            // On the writer's connection: a pool's reader that saw the schema before migrating
            // went on decoding records by the old table's columns (a column added by a migration
            // was "not found" in the first query after it).
            let unknown = try writer.writeWithoutTransaction { db -> [String] in
                guard try db.tableExists("grdb_migrations") else { return [] }
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
                return applied.filter { !Store.knownMigrations.contains($0) }
            }
            if !unknown.isEmpty {
                throw StoreError.newerSchema(path: path, unknownMigrations: unknown)
            }
            try migrator.migrate(writer)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .migrationFailed(path: path, reason: "\(error)")
        }
    }
}

/// Errors opening or migrating the database.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case newerSchema(path: String, unknownMigrations: [String])
    case migrationFailed(path: String, reason: String)
    case invalidMigration(name: String, reason: String)
    /// Another `caulk serve` (process `holder`) serves this database.
    case inUse(path: String, holder: String)
    /// A query this store cannot answer (the domain checks first; this is the backstop).
    case unsupported(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open database \(path): \(reason)"
        case .newerSchema(let path, let unknown):
            "database \(path) was written by a newer caulk (it has migrations this binary does not know: "
                + unknown.joined(separator: ", ") + "); run the newer caulk, or restore a backup made for this version"
        case .migrationFailed(let path, let reason):
            "migrating database \(path) failed, nothing was changed by the failed step: \(reason)"
        case .invalidMigration(let name, let reason):
            "migration \(name) is invalid: \(reason)"
        case .unsupported(let what):
            what
        case .inUse(let path, let holder):
            "database \(path) is already served by another caulk serve\(holder.isEmpty ? "" : " (process \(holder))"); stop it first, or give this one its own --database"
        }
    }
}
