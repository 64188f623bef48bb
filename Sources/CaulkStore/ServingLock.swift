import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One `caulk serve` per database. A second server on the same file would mark the first one's
/// running audits and repairs `interrupted` at start-up, releasing the repair lock of a cluster
/// still being repaired. The lock is an exclusive `flock` on `<database>.serve-lock`, held as long
/// as this object lives; the kernel drops it when the process dies, so a crash never leaves it
/// behind. Other clients of the file (`caulk tokens create --local`, backups) do not take it.
public final class ServingLock: Sendable {
    /// The lock file's descriptor; owned by this object, closed (and the lock released) in deinit.
    private let descriptor: Int32
    public let path: String

    public init(database: String) throws(StoreError) {
        path = database + ".serve-lock"
        do {
            try FileManager.default.createDirectory(at: URL(fileURLWithPath: database).deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen(path: database, reason: "cannot create its directory: \(error.localizedDescription)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .cannotOpen(path: database, reason: "cannot open its lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw .inUse(path: database, holder: holder)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { write(fd, $0, strlen($0)) }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}
