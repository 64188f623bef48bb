import CaulkDomain
import CaulkSSH
import CaulkStore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import ServiceLifecycle

/// Everything the API needs, built once.
public struct Services: Sendable {
    public let store: Store
    /// Audits, repairs and auto-repair decisions that go on after their request was answered.
    let background: BackgroundRuns
    /// The SSH engines, shut down with the service once every run has stopped.
    let executor: SSHExecutor
    let interactive: SSHExecutor?
    public let inventory: InventoryService
    public let tokens: TokenService
    public let runs: RunHistory
    public let exec: ExecService
    public let trust: HostKeyTrust
    public let playbooks: PlaybookLibrary
    public let audits: AuditService
    public let reboots: RebootService
    public let schedules: ScheduleService
    public let beacons: BeaconService
    public let repairs: RepairService
    public let autoRepairs: AutoRepairService
    public let reports: ReportService
    public let retention: RetentionService
    public let dashboard: DashboardService
    public let activity: ActivityLog
    /// Webhooks, and the courier that sends what is queued for them.
    public let notifications: NotificationService
    let courier: NotificationCourier
    /// What caulk counts and times, and the Prometheus registry `GET /metrics` shows it from.
    public let metrics: CaulkMetrics
    public let prometheus: PrometheusExport

    /// `executor` runs audits, repairs and beacon installs; `interactive` runs `exec` and host-key
    /// trust, on threads of its own, so a day-long exec on many nodes never holds up a repair.
    public init(
        store: Store, executor: SSHExecutor = SSHExecutor(), interactive: SSHExecutor? = nil, sshPassphrase: Secret? = nil,
        playbookDirectories: [String] = [], logger: Logger = Logger(label: "caulk"), background: BackgroundRuns = BackgroundRuns(),
        retention: RetentionPolicy = .defaults, prometheus: PrometheusExport = PrometheusExport(),
        delivery: DeliveryPolicy = DeliveryPolicy(), notifyHold: Bool = false
    ) throws {
        self.store = store
        self.prometheus = prometheus
        metrics = CaulkMetrics(factory: prometheus)
        self.background = background
        self.executor = executor
        self.interactive = interactive
        inventory = InventoryService(store: store)
        tokens = TokenService(store: store)
        runs = RunHistory(store: store, logger: logger, metrics: metrics)
        exec = ExecService(store: store, executor: interactive ?? executor, passphrase: sshPassphrase, runs: runs)
        trust = HostKeyTrust(store: store, executor: interactive ?? executor, passphrase: sshPassphrase)
        playbooks = try PlaybookLibrary(directories: playbookDirectories)
        audits = AuditService(store: store, executor: executor, library: playbooks, passphrase: sshPassphrase, runs: runs, background: background)
        reboots = RebootService(store: store, metrics: metrics)
        schedules = ScheduleService(store: store, audits: audits)
        beacons = BeaconService(store: store, executor: executor, tokens: tokens, library: playbooks, passphrase: sshPassphrase, runs: runs)
        repairs = RepairService(
            store: store, executor: executor, audits: audits, library: playbooks, passphrase: sshPassphrase, runs: runs, background: background)
        autoRepairs = AutoRepairService(store: store, audits: audits, repairs: repairs, background: background)
        reports = ReportService(store: store, library: playbooks)
        self.retention = RetentionService(store: store, policy: retention)
        dashboard = DashboardService(store: store, reports: reports, runs: runs, reboots: reboots)
        activity = ActivityLog(store: store)
        notifications = NotificationService(store: store, activity: activity)
        courier = NotificationCourier(
            store: store, transport: HTTPWebhookTransport(), policy: delivery, hold: notifyHold, metrics: metrics, logger: logger)
    }
}

/// The router with every route; tests drive it directly (`app.test(.router)`) or over a socket.
/// `secureCookies`: served over HTTPS, so the dashboard's cookie is never sent over plain HTTP.
public func buildRouter(_ services: Services, secureCookies: Bool = false) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    // `/v1` requests are logged once answered, with their caller (AuthMiddleware); the rest
    // (probes, the dashboard) only at debug.
    router.add(middleware: LogRequestsMiddleware(.debug))
    HealthController(store: services.store).addRoutes(to: router)
    DashboardController(tokens: services.tokens, dashboard: services.dashboard, secureCookies: secureCookies).addRoutes(to: router)

    let v1 = router.group("v1").add(middleware: AuthMiddleware(tokens: services.tokens))
    ClustersController(inventory: services.inventory).addRoutes(to: v1)
    NodesController(inventory: services.inventory).addRoutes(to: v1)
    InventoryController(inventory: services.inventory).addRoutes(to: v1)
    TokensController(tokens: services.tokens).addRoutes(to: v1)
    RunsController(runs: services.runs, exec: services.exec, trust: services.trust).addRoutes(to: v1)
    RepairsController(repairs: services.repairs, autoRepairs: services.autoRepairs).addRoutes(to: v1)
    AuditsController(audits: services.audits, playbooks: services.playbooks).addRoutes(to: v1)
    RebootsController(reboots: services.reboots, beacons: services.beacons).addRoutes(to: v1)
    SchedulesController(schedules: services.schedules).addRoutes(to: v1)
    ReportsController(reports: services.reports).addRoutes(to: v1)
    AdminController(retention: services.retention).addRoutes(to: v1)
    ActivityController(activity: services.activity).addRoutes(to: v1)
    NotificationsController(notifications: services.notifications).addRoutes(to: v1)
    MetricsController(services: services).addRoutes(to: router.group("metrics").add(middleware: AuthMiddleware(tokens: services.tokens)))
    // Last, so that it wraps only the not-found responder: a served path with another method is a 405.
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}

/// The composition root of `caulk serve`: database, services, router, HTTP server.
public func buildApplication(
    _ configuration: ServerConfiguration, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    // Before anything else: a certificate that cannot be read, or plain HTTP on the network, stops here.
    let tls = try configuration.tlsConfiguration()
    // Before anything changes in the database: a second server must not mark the first one's
    // runs interrupted.
    let lock = try ServingLock(database: configuration.database)
    let store = try Store.open(path: configuration.database)
    if try await !store.incrementalVacuumEnabled() {
        // Once per database: from then on retention gives freed pages back to the file system.
        logger.notice("turning on incremental vacuum in \(configuration.database) (once; a large file takes a while)")
        try await store.enableIncrementalVacuum()
    }
    let interrupted = try await RunHistory(store: store, logger: logger).interruptLeftovers()
    if interrupted > 0 {
        logger.warning("\(interrupted) run(s) were in flight when caulk last stopped; marked interrupted with the hosts they finished")
    }
    let backlog = try await store.historyBacklog()
    if backlog > 0 {
        // Audits from before the report history existed (or a generated history): once, before serving.
        logger.notice("working \(backlog) finished audit(s) into the report history (once; a long history takes a while)")
        let started = ContinuousClock.now
        _ = try await store.indexHistory()
        logger.notice("report history ready in \(ContinuousClock.now - started)")
    }
    let sessions = configuration.sshKeepSeconds > 0
        ? SessionPool(idleTimeout: .seconds(configuration.sshKeepSeconds), capacity: min(1024, raiseOpenFileLimit() / 4)) : nil
    let prometheus = PrometheusExport()
    let services = try Services(
        store: store, executor: SSHExecutor(threads: configuration.sshThreads, sessions: sessions, name: "runs", metrics: prometheus),
        interactive: SSHExecutor(threads: configuration.sshExecThreads, sessions: sessions, sweeps: false, name: "exec", metrics: prometheus),
        sshPassphrase: try configuration.sshPassphrase(), playbookDirectories: configuration.playbookDirectories, logger: logger,
        // Every background job is a child task of BackgroundWork's, from the first request on.
        background: BackgroundRuns(attached: true), retention: configuration.retention, prometheus: prometheus,
        delivery: configuration.delivery, notifyHold: configuration.notifyHold)
    return Application(
        router: buildRouter(services, secureCookies: tls != nil),
        server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "caulk"),
        services: [BackgroundWork(services: services, lock: lock, logger: logger)],
        onServerRunning: { channel in
            var configuration = configuration
            configuration.port = channel.localAddress?.port ?? configuration.port
            // Only once the port is bound: a token printed by a server that then failed to
            // start would be stored, unseen, and block the next bootstrap.
            do {
                if let token = try await services.tokens.bootstrapIfEmpty() {
                    announce(token.secret, configuration: configuration, logger: logger)
                }
            } catch {
                logger.error("could not create the first admin token: \(error); use `caulk tokens create NAME --role admin --local`")
            }
            await onServerRunning(configuration.port)
        },
        logger: logger
    )
}

/// The scheduler, the auto-repair policy, retention, webhook deliveries, and the audits and repairs started over the API, all
/// child tasks of this service's. On shutdown they are cancelled and waited for (audits end
/// `cancelled` with the nodes they finished; a repair touches no further node), then the SSH
/// engines' threads and kept connections are let go.
struct BackgroundWork: Service {
    let services: Services
    /// Held while the service runs: one server per database.
    let lock: ServingLock
    let logger: Logger

    func run() async throws {
        let logger = logger
        let services = services
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await services.schedules.run { logger.info("\($0)") } }
                group.addTask { await services.autoRepairs.run { logger.info("\($0)") } }
                group.addTask { await services.background.run() }
                group.addTask { await services.retention.run(logger: logger) }
                group.addTask { await services.courier.run() }
            }
        }
        for executor in [services.executor, services.interactive].compactMap({ $0 }) {
            do {
                try await executor.shutdown()
            } catch {
                logger.warning("the SSH engine did not shut down cleanly: \(error)")
            }
        }
    }
}

/// Raises the soft limit of open files to the hard one (kept SSH connections hold one each, two
/// through a bastion) and returns it.
private func raiseOpenFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 1024 }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { limit = raised }
    }
    return Int(clamping: limit.rlim_cur)
}

#if canImport(Glibc)
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif

/// Prints the first admin token once (it is not stored anywhere in clear) and, when asked,
/// writes it to a file only its owner can read.
private func announce(_ secret: String, configuration: ServerConfiguration, logger: Logger) {
    let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
    // Written to the bootstrap file, the secret stays out of stdout (a journal, a CI log).
    var written: String?
    if let path = configuration.bootstrapTokenFile {
        let url = URL(fileURLWithPath: path)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown)
            }
            written = path
        } catch {
            logger.error("could not write the bootstrap token to \(path): \(error)")
        }
    }
    var lines = [
        written.map { "caulk: this database had no tokens, so an admin token was created and written to \($0) (mode 0600):" }
            ?? "caulk: this database had no tokens, so an admin token was created. It is shown only now:",
        "",
        "    export CAULK_URL=\(configuration.scheme)://\(host):\(configuration.port)",
        "    export CAULK_TOKEN=\(written.map { "$(cat \(ShellQuote.quote($0)))" } ?? secret)",
        "",
    ]
    lines.append("caulk: lost it? On this host run `caulk tokens create NAME --role admin --local --database \(configuration.database)`.")
    FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
}
