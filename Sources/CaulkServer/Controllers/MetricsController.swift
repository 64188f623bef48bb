import CaulkDomain
import Hummingbird
import NIOCore

/// `GET /metrics` (viewer): Prometheus' text format. The fleet's state is read from the
/// database at each scrape; what happened (runs, steps, SSH errors, reboots, auto-repair
/// decisions) is counted as it happens. A token limited to some clusters is refused: the
/// metrics are the whole fleet's.
struct MetricsController {
    let services: Services

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get { _, context in
            let identity = try context.require(.viewer)
            if identity.clusters != nil { throw AppRequestContext.limited(identity, "/metrics shows the whole fleet") }
            try await services.metrics.refresh(store: services.store, keptConnections: services.executor.sessions?.idleCount)
            var bytes: [UInt8] = []
            services.prometheus.registry.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
