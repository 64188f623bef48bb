import ArgumentParser
import CaulkAPI
import Foundation

struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "Recurring audits run by the service.",
        discussion: """
            Cron expressions have 5 fields (minute hour day-of-month month day-of-week) in
            UTC, or @hourly, @daily, @weekly, @monthly. The service never runs two audits
            of one cluster at once; after it was down, a schedule that missed slots runs
            once, not once per slot.
            """,
        subcommands: [Add.self, List.self, Remove.self, Pause.self, Resume.self]
    )

    static func table(_ schedules: [Schedule]) -> [[String]] {
        [["NAME", "CRON", "CLUSTER", "PLAYBOOK", "STATE", "NEXT RUN", "LAST RUN", "BY"]]
            + schedules.map {
                [$0.name, $0.cron, $0.cluster ?? "(all)", $0.playbook, $0.paused ? "paused" : "active", $0.paused ? "-" : Output.date($0.nextRunAt),
                 Output.date($0.lastRunAt), $0.createdBy]
            }
    }

    static func setPaused(_ paused: Bool, name: String, options: ClientOptions) async throws {
        let schedule = try await options.client().patch("/v1/schedules/\(segment(name))", json: ScheduleUpdate(paused: paused), as: Schedule.self)
        try options.out.emit(schedule) { table([$0]) }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a schedule (operator).", discussion: "Example: caulk schedules add fleet-15m --cron '*/15 * * * *' --all")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Schedule name.") var name: String
        @Option(help: "When, as a cron expression in UTC.") var cron: String
        @Option(help: "Audit this cluster.") var cluster: String?
        @Flag(help: "Audit every cluster (as the inventory is when it fires).") var all = false
        @Option(help: "Audit playbook.") var playbook: String?

        func validate() throws {
            guard (cluster == nil) == all else { throw ValidationError("give --cluster NAME or --all") }
        }

        func run() async throws {
            let schedule = try await options.client().post(
                "/v1/schedules", json: ScheduleCreate(name: name, cron: cron, cluster: cluster, all: all ? true : nil, playbook: playbook), as: Schedule.self)
            try options.out.emit(schedule) { SchedulesCommand.table([$0]) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Every schedule.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let schedules = try await options.client().get("/v1/schedules", as: [Schedule].self)
            try options.out.emit(schedules, table: SchedulesCommand.table)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a schedule (operator).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Schedule name.") var name: String

        func run() async throws {
            let data = try await options.client().delete("/v1/schedules/\(segment(name))")
            let schedule = try JSONCoding.decoder().decode(Schedule.self, from: data)
            try options.out.emit(schedule) { SchedulesCommand.table([$0]) }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a schedule from firing until resumed (operator).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Schedule name.") var name: String

        func run() async throws {
            try await SchedulesCommand.setPaused(true, name: name, options: options)
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused schedule from its next slot (operator).")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Schedule name.") var name: String

        func run() async throws {
            try await SchedulesCommand.setPaused(false, name: name, options: options)
        }
    }
}
