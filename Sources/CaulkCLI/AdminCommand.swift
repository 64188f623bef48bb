import ArgumentParser
import CaulkAPI
import Foundation

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Service upkeep (admin).",
        subcommands: [Purge.self]
    )

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the retention settings now, or show what they would remove (--dry-run).",
            discussion: """
                The service purges by itself every hour; this runs the same purge at
                once. Each class of data is kept for the days its setting says
                (retention: in the service's config file; 0 keeps it forever):
                  output    commands' output in runs and repair steps (emptied)
                  facts     what audits read on each node (emptied)
                  findings  audit findings
                  runs      runs, with everything recorded under them
                  events    reboot events and auto-repair decisions
                Nothing of a run still running is touched. Freed space goes back to
                the file system.

                Examples:
                  caulk admin purge --dry-run
                  caulk admin purge -o json
                """
        )
        @OptionGroup var options: ClientOptions
        @Flag(name: .customLong("dry-run"), help: "Only count what would go.") var dryRun = false

        func run() async throws {
            // The first purge of a long history can take minutes.
            var client = try options.client()
            client.timeout = .hours(1)
            let result = try await client.post(
                "/v1/admin/purge", query: dryRun ? [("dry_run", "true")] : [], json: [String: String](), as: PurgeResult.self)
            try options.out.emit(result) { result in
                let header = ["CLASS", "KEEP", "OLDER THAN", result.dryRun ? "WOULD GO" : "PURGED", "PURGED BEFORE"]
                var rows = [header] + result.classes.map { purge in
                    [purge.class.rawValue, purge.keepDays.map { "\($0)d" } ?? "forever", purge.cutoff.map(Output.date) ?? "-", String(purge.rows),
                     purge.purgedBefore.map(Output.date) ?? "-"]
                }
                if !result.dryRun, let before = result.fileBytesBefore, let after = result.fileBytesAfter {
                    rows += [[""], ["database file: \(before) → \(after) bytes"]]
                }
                return rows
            }
        }
    }
}
