import GRDB

/// The schema: the SQL files in `Migrations/`, embedded at build time, applied in file-name order.
///
/// Files are named `NNNN_name.sql`, numbered from 0001 without gaps, and never edited once shipped;
/// each one is applied in its own transaction and recorded in `grdb_migrations`.
enum Migrations {
    struct Migration {
        let id: String
        let sql: String
    }

    static let all: [Migration] = Embedded.files
        .filter { $0.name.hasSuffix(".sql") }
        .map { Migration(id: String($0.name.dropLast(4)), sql: $0.contents) }

    /// Checks the naming rule; a test runs it so a misnamed file never ships.
    static func validate() throws(StoreError) {
        for (index, migration) in all.enumerated() {
            let expected = String(format: "%04d_", index + 1)
            guard migration.id.hasPrefix(expected), migration.id.count > 5 else {
                throw .invalidMigration(name: migration.id, reason: "expected a name starting with \(expected)")
            }
            let suffix = migration.id.dropFirst(5)
            guard suffix.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }) else {
                throw .invalidMigration(name: migration.id, reason: "use lowercase letters, digits and _ after the number")
            }
        }
    }

    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in all {
            migrator.registerMigration(migration.id) { db in
                try db.execute(sql: migration.sql)
            }
        }
        return migrator
    }
}
