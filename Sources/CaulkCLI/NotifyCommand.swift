import ArgumentParser
import CaulkAPI
import Foundation

struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Webhooks told of what happens, and what was sent to them (admin).",
        discussion: """
            Events: audit-state-changed (an audit that ran to its end found the cluster
            in another state than the audit before it; a first audit only when not
            healthy), repair-finished (not dry runs), auto-repair (every decision, with
            why), reboot (a node's boot seen for the first time). A webhook takes some
            of them, for one cluster (--cluster) or the whole fleet.

            Formats: caulk (the event as JSON: the NotificationEvent schema at
            /v1/openapi.yaml), slack ({"text": …}, for Slack, Mattermost or Rocket.Chat
            incoming webhooks), alertmanager (alerts for Alertmanager's /api/v2/alerts;
            an unhealthy cluster fires CaulkClusterUnhealthy until an audit finds it
            otherwise).

            Every request is signed: X-Caulk-Signature is sha256= and the hex
            HMAC-SHA256, under the webhook's secret, of X-Caulk-Timestamp, a dot, and
            the body. A delivery is sent at least once (X-Caulk-Delivery tells repeats
            apart), and again after no answer, a 5xx, 408 or 429, with a doubling wait
            (notify_attempts, notify_first_wait_seconds); any other answer fails it.

            Examples:
              caulk notify add ops --to https://hooks.example.com/caulk \\
                --on audit-state-changed,repair-finished,auto-repair
              caulk notify add chat --to https://hooks.slack.com/services/T/B/X \\
                --format slack --on repair-finished --cluster prod-a
              caulk notify add am --to http://alertmanager:9093/api/v2/alerts \\
                --format alertmanager --on audit-state-changed
              caulk notify test ops
              caulk notify log --status failed
            """,
        subcommands: [Add.self, List.self, Remove.self, Test.self, Log.self]
    )

    static func table(_ webhooks: [Webhook]) -> [[String]] {
        [["NAME", "URL", "CLUSTER", "ON", "FORMAT", "BY"]]
            + webhooks.map { [$0.name, $0.url, $0.cluster ?? "(all)", $0.on.map(\.rawValue).joined(separator: ","), $0.format.rawValue, $0.createdBy] }
    }

    static func table(_ deliveries: [Delivery]) -> [[String]] {
        [["ID", "AT", "WEBHOOK", "EVENT", "CLUSTER", "STATUS", "TRIES", "ANSWER", "SUMMARY"]]
            + deliveries.map {
                [String($0.id), Output.date($0.createdAt), $0.webhook, $0.event.rawValue, $0.cluster ?? "-", $0.status.rawValue, String($0.attempts),
                 answer($0), String($0.summary.prefix(100))]
            }
    }

    /// The last attempt's HTTP status, or its error, or when the next one is due.
    static func answer(_ delivery: Delivery) -> String {
        var text = delivery.lastStatusCode.map { "HTTP \($0)" } ?? (delivery.attempts == 0 ? "-" : "no answer")
        if delivery.status == .pending, let next = delivery.nextAttemptAt, delivery.attempts > 0 { text += ", next \(Output.date(next))" }
        return text
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a webhook; its signing secret is printed once.",
            discussion: "Example: caulk notify add ops --to https://hooks.example.com/caulk --on audit-state-changed,auto-repair")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Webhook name (a DNS-1123 label).") var name: String
        // Not --url: that is the caulk server's, as for every command.
        @Option(help: ArgumentHelp("Where to POST: an http:// or https:// URL.", valueName: "url")) var to: String
        @Option(help: ArgumentHelp(
            "Events, comma-separated: \(NotificationKind.subscribable.map(\.rawValue).joined(separator: ", ")).", valueName: "events"))
        var on: String
        @Option(help: "Only this cluster's events (default: every cluster's).") var cluster: String?
        @Option(help: "caulk, slack or alertmanager.") var format: WebhookFormat = .caulk
        @Option(help: ArgumentHelp("Sign with the secret on this file's first line (default: caulk makes one).", valueName: "file")) var secretFile: String?

        func run() async throws {
            var kinds: [NotificationKind] = []
            for word in on.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let kind = NotificationKind(rawValue: word), kind != .test else {
                    throw CLIError.usage("--on: '\(word)' is not an event; use \(NotificationKind.subscribable.map(\.rawValue).joined(separator: ", "))")
                }
                kinds.append(kind)
            }
            var secret: String?
            if let secretFile {
                guard let text = try? String(contentsOfFile: secretFile, encoding: .utf8) else { throw CLIError.usage("--secret-file: cannot read \(secretFile)") }
                secret = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            }
            let created = try await options.client().post(
                "/v1/webhooks", json: WebhookInput(name: name, url: to, cluster: cluster, on: kinds, format: format, secret: secret), as: CreatedWebhook.self)
            try options.out.emit(created) { created in
                NotifyCommand.table([created.webhook]) + [[""], ["its signing secret (X-Caulk-Signature) is shown only now:"], [created.secret]]
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Every webhook (never its secret).")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            try options.out.emit(try await options.client().get("/v1/webhooks", as: [Webhook].self), table: NotifyCommand.table)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Remove a webhook; what was still to be sent to it fails, its history stays.", aliases: ["rm"])
        @OptionGroup var options: ClientOptions
        @Argument(help: "Webhook name.") var name: String

        func run() async throws {
            let webhook = try JSONCoding.decoder().decode(Webhook.self, from: try await options.client().delete("/v1/webhooks/\(segment(name))"))
            try options.out.emit(webhook) { NotifyCommand.table([$0]) }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test event to a webhook and wait for its answer.",
            discussion: "Exit status 0 once delivered; 1 when the receiver refused it, did not answer, or nothing was sent in time.")
        @OptionGroup var options: ClientOptions
        @Argument(help: "Webhook name.") var name: String
        @Option(help: "Seconds to wait for the first attempt's outcome.") var wait: Int = 30

        func run() async throws {
            let client = try options.client()
            var delivery = try await client.post("/v1/webhooks/\(segment(name))/test", json: [String: String](), as: Delivery.self)
            let deadline = Date().addingTimeInterval(Double(max(0, wait)))
            while delivery.attempts == 0, delivery.status == .pending, Date() < deadline {
                try await Task.sleep(for: .milliseconds(250))
                delivery = try await client.get("/v1/deliveries/\(delivery.id)", as: Delivery.self)
            }
            try options.out.emit(delivery) { NotifyCommand.table([$0]) }
            switch delivery.status {
            case .delivered:
                return
            case .failed:
                throw CLIError.failure("delivery \(delivery.id) to \(name) failed: \(delivery.lastError ?? "?")")
            case .pending where delivery.attempts > 0:
                throw CLIError.failure("delivery \(delivery.id) to \(name) not delivered yet: \(delivery.lastError ?? "?"); it is tried again (caulk notify log --webhook \(name))")
            case .pending:
                throw CLIError.failure(
                    "delivery \(delivery.id) had no outcome within \(wait) s: the receiver is slow to answer, or the server holds notifications (notify_hold); see caulk notify log --webhook \(name)")
            }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What was sent to webhooks, newest first.",
            discussion: """
                STATUS is pending (not sent yet, or to be tried again), delivered, or failed
                (refused, out of attempts, or its webhook was removed); -o json has the last
                error of each.

                Examples:
                  caulk notify log --status failed
                  caulk notify log --webhook ops --event audit-state-changed
                """)
        @OptionGroup var options: ClientOptions
        @Option(help: "Only this webhook's.") var webhook: String?
        @Option(help: "Only pending, delivered or failed.") var status: DeliveryStatus?
        @Option(help: "Only this kind of event.") var event: NotificationKind?
        @Option(help: "Only this cluster's events.") var cluster: String?
        @Option(help: "At most this many.") var limit: Int = 100

        func run() async throws {
            var query: [(String, String)] = []
            if let webhook { query.append(("webhook", webhook)) }
            if let status { query.append(("status", status.rawValue)) }
            if let event { query.append(("event", event.rawValue)) }
            if let cluster { query.append(("cluster", cluster)) }
            let deliveries = try await options.client().all("/v1/deliveries", query: query, limit: limit, as: Delivery.self)
            try options.out.emit(deliveries, table: NotifyCommand.table)
        }
    }
}

extension WebhookFormat: ExpressibleByArgument {}
extension DeliveryStatus: ExpressibleByArgument {}
extension NotificationKind: ExpressibleByArgument {}
