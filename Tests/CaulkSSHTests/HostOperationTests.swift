import Foundation
import Synchronization
import Testing

@testable import CaulkSSH

/// The engine against a real sshd on loopback.
@Suite(.serialized) struct HostOperationTests {
    let sshd: SSHDFixture
    /// One pool for the suite, as the service has one for its life.
    static let executor = SSHExecutor(threads: 16)
    var executor: SSHExecutor { Self.executor }

    init() throws { sshd = try SSHDFixture() }

    func run(_ target: SSHTarget, _ commands: [SSHCommand], options: SSHOptions = SSHOptions()) async -> HostOutcome {
        await executor.run(SSHJob(target: target, commands: commands), options: options)
    }

    /// Where root may not log in, every command runs through `sudo -n`, quoted whole.
    @Test func becomeWrapsTheWholeCommandInSudoN() {
        let command = SSHCommand("echo 'hi'", timeout: .seconds(5))
        #expect(command.wire(become: nil) == command.wire)
        #expect(command.wire(become: "root") == "sudo -n -u 'root' -- sh -c " + ShellQuote.quote(command.wire))
    }

    @Test func stdoutStderrAndExitStatusComeBackApart() async throws {
        let outcome = await run(sshd.target(), [SSHCommand("echo out; echo err >&2; exit 3"), SSHCommand("hostname")])
        let results = try outcome.result.get()
        #expect(String(decoding: results[0].stdout, as: UTF8.self) == "out\n")
        #expect(String(decoding: results[0].stderr, as: UTF8.self) == "err\n")
        #expect(results[0].exitStatus == 3)
        #expect(String(decoding: results[1].stdout, as: UTF8.self) == (try SSHDFixture.shell("hostname")))
        #expect(results[1].succeeded)
        #expect(outcome.hostKey == sshd.hostKeyFingerprint)
    }

    /// A secret reaches the host on standard input, never on a command line; a command that reads
    /// its input to the end gets end of file, not a wait until its timeout.
    @Test func standardInputIsSentThenClosed() async throws {
        let secret = Array("caulk_\(UUID().uuidString)\n".utf8)
        let outcome = await run(sshd.target(), [
            SSHCommand("umask 077; cat > \(sshd.directory.path)/secret; wc -c < \(sshd.directory.path)/secret", timeout: .seconds(20), stdin: secret),
            SSHCommand("cat", timeout: .seconds(20), stdin: []),
        ])
        let results = try outcome.result.get()
        #expect(String(decoding: results[0].stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "\(secret.count)")
        #expect(try Data(contentsOf: sshd.directory.appending(path: "secret")) == Data(secret))
        #expect(results[1].succeeded && results[1].stdout.isEmpty && !results[1].timedOut)
    }

    @Test func outputIsCappedAndFlagged() async throws {
        var options = SSHOptions()
        options.outputCap = 1 << 20
        let outcome = await run(sshd.target(), [SSHCommand("head -c 5000000 /dev/zero; head -c 10 /dev/zero >&2")], options: options)
        let result = try outcome.result.get()[0]
        #expect(result.stdout.count == 1 << 20 && result.stdoutTruncated)
        #expect(result.stderr.count == 10 && !result.stderrTruncated)
        #expect(result.exitStatus == 0)
    }

    @Test func aCommandTimeoutClosesTheChannel() async throws {
        let started = ContinuousClock.now
        let outcome = await run(sshd.target(), [SSHCommand("sleep 107", timeout: .seconds(2))])
        let result = try outcome.result.get()[0]
        #expect(result.timedOut)
        #expect(result.exitStatus == nil)
        // Far below the command's 107 s, whatever the machine's load: the timeout, not the command, ended it.
        #expect(ContinuousClock.now - started < .seconds(60))
        var gone = false
        for _ in 0..<50 where !gone {
            try await Task.sleep(for: .milliseconds(100))
            gone = (try? SSHDFixture.shell("pgrep -f '^sleep 107$'")) == nil
        }
        #expect(gone, "the command is still running on the host")
    }

    /// The case of caulk dying mid-step: its channel closes before the command ends. The command
    /// must stop then, not run on unwatched until its own timeout.
    @Test func aCommandWhoseChannelClosesFirstIsStoppedOnTheHost() async throws {
        let marker = sshd.directory.appending(path: "marker-\(UUID().uuidString)").path
        let target = sshd.target()
        let task = Task { await run(target, [SSHCommand("sleep 4243; touch \(marker)", timeout: .seconds(60))]) }
        var started = false
        for _ in 0..<100 where !started {
            try await Task.sleep(for: .milliseconds(100))
            started = (try? SSHDFixture.shell("pgrep -f '^sleep 4243$'")) != nil
        }
        #expect(started)
        task.cancel()
        _ = await task.value
        var gone = false
        for _ in 0..<50 where !gone {
            try await Task.sleep(for: .milliseconds(100))
            gone = (try? SSHDFixture.shell("pgrep -f '^sleep 4243$'")) == nil
        }
        #expect(gone, "the command runs on after its channel closed")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func quotingKeepsAnyValueOneWord() async throws {
        let nasty = "it's $(reboot) `id` \"q\" ; | & \\ end"
        let result = try await run(sshd.target(), [SSHCommand("printf %s \(ShellQuote.quote(nasty))")]).result.get()[0]
        #expect(String(decoding: result.stdout, as: UTF8.self) == nasty)
    }

    @Test func aCommandLongerThanTheKeepaliveIntervalIsNotCutShort() async throws {
        var options = SSHOptions()
        options.keepaliveInterval = .seconds(1)
        let result = try await run(sshd.target(), [SSHCommand("sleep 3; echo done", timeout: .seconds(10))], options: options).result.get()[0]
        #expect(!result.timedOut && result.exitStatus == 0)
        #expect(String(decoding: result.stdout, as: UTF8.self) == "done\n")
    }

    @Test func exitSignalsAreReported() async throws {
        let result = try await run(sshd.target(), [SSHCommand("kill -TERM $$")]).result.get()[0]
        #expect(result.exitSignal == "TERM")
        #expect(!result.succeeded)
    }

    @Test func unknownAndChangedHostKeysAreRefusedBeforeAnythingIsSent() async throws {
        let marker = sshd.directory.appending(path: "touched").path
        let touch = [SSHCommand("touch \(marker)")]
        let unknown = await run(sshd.target(hostKey: .unknown), touch)
        guard case .failure(let error) = unknown.result, case .hostKeyUnknown(let actual) = error.kind else {
            Issue.record("expected an unknown-key refusal, got \(unknown.result)")
            return
        }
        #expect(actual == sshd.hostKeyFingerprint)
        let wrong = "SHA256:ILiDJiAWgJdl/V9J62EKF2tJi5PC95kTA2/XDf7mNu4"
        let changed = await run(sshd.target(hostKey: .pinned(wrong)), touch)
        guard case .failure(let error2) = changed.result else { Issue.record("expected a refusal"); return }
        #expect(error2.kind == .hostKeyChanged(expected: wrong, actual: sshd.hostKeyFingerprint))
        #expect(error2.description.contains("caulk nodes trust"))
        #expect(!FileManager.default.fileExists(atPath: marker))

        let trusted = await run(sshd.target(hostKey: .trustOnFirstUse), touch)
        #expect(trusted.hostKey == sshd.hostKeyFingerprint)
        #expect(FileManager.default.fileExists(atPath: marker))
    }

    @Test func anRSAKeyRefusalSaysWhyAndWhatToDo() async throws {
        let outcome = await run(sshd.target(key: sshd.rsaKey), [SSHCommand("true")])
        guard case .failure(let error) = outcome.result else { Issue.record("RSA key was accepted"); return }
        #expect(error.kind == .rsaKeyRefused)
        #expect(error.description.contains("ed25519"))
        #expect(PrivateKey.type(ofFile: sshd.clientKey) == "ssh-ed25519")
    }

    @Test func aMissingKeyFileFailsBeforeConnecting() async throws {
        let outcome = await run(sshd.target(key: "/nonexistent/key"), [SSHCommand("true")])
        guard case .failure(let error) = outcome.result else { Issue.record("expected failure"); return }
        #expect(error.kind == .keyFile)
        #expect(outcome.hostKey == nil)
    }

    @Test func aClosedPortIsRefusedFast() async throws {
        let started = ContinuousClock.now
        let outcome = await run(sshd.target(port: SSHDFixture.freePort()), [SSHCommand("true")])
        guard case .failure(let error) = outcome.result else { Issue.record("expected failure"); return }
        #expect(error.kind == .connectionRefused)
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func throughABastion() async throws {
        let second = try SSHDFixture()
        var target = second.target("behind-bastion")
        target.bastion = Bastion(host: "127.0.0.1", port: sshd.port, user: NSUserName(), privateKey: sshd.clientKey, hostKey: .pinned(sshd.hostKeyFingerprint))
        target.privateKey = second.clientKey
        let outcome = await run(target, [SSHCommand("echo through; head -c 300000 /dev/zero | wc -c")])
        let result = try outcome.result.get()[0]
        #expect(String(decoding: result.stdout, as: UTF8.self) == "through\n300000\n")
        #expect(outcome.hostKey == second.hostKeyFingerprint)

        // the bastion's own key is checked too
        target.bastion?.hostKey = .pinned(second.hostKeyFingerprint)
        let refused = await run(target, [SSHCommand("true")])
        guard case .failure(let error) = refused.result, case .hostKeyChanged = error.kind else {
            Issue.record("bastion key not checked: \(refused.result)")
            return
        }
    }

    @Test func fanOutStreamsEachHostAsItFinishesAndCancellingStopsTheRest() async throws {
        var jobs = (0..<40).map { SSHJob(target: sshd.target("h\($0)"), commands: [SSHCommand("echo h\($0)")]) }
        jobs.insert(SSHJob(target: sshd.target("hung"), commands: [SSHCommand("sleep 300", timeout: .seconds(20))]), at: 0)
        let started = ContinuousClock.now
        var fast: [String] = []
        for await outcome in executor.fanOut(jobs, concurrency: 8) {
            #expect(outcome.target.name != "hung", "the hung host finished?")
            #expect(String(decoding: try outcome.result.get()[0].stdout, as: UTF8.self) == "\(outcome.target.name)\n")
            fast.append(outcome.target.name)
            if fast.count == 40 { break }  // ends the stream: the hung host's channel is closed
        }
        #expect(Set(fast).count == 40, "every other host came back while one hung")
        #expect(ContinuousClock.now - started < .seconds(20), "the others waited for the hung host")
        // The hung host's connection is closed (its command ends at its own timeout on the host).
        var open = "?"
        for _ in 0..<50 where open != "" {
            try await Task.sleep(for: .milliseconds(100))
            open = (try? SSHDFixture.shell("ss -Htn state established '( dport = :\(sshd.port) )'")) ?? "?"
        }
        #expect(open == "", "cancelling left a connection open: \(open)")
    }

    /// Two runs on an executor of 2 threads: the run that comes second, asking for less, is not
    /// queued behind everything the first asked for, and no more than 2 commands ever run at once.
    @Test func runsShareTheBudgetInTurn() async throws {
        let small = SSHExecutor(threads: 2)
        defer { Task { try? await small.shutdown() } }
        let marks = FileManager.default.temporaryDirectory.appending(path: "caulk-budget-\(UUID().uuidString)").path
        for directory in ["running", "counts"] { try FileManager.default.createDirectory(atPath: "\(marks)/\(directory)", withIntermediateDirectories: true) }
        defer { try? FileManager.default.removeItem(atPath: marks) }
        // Each command notes how many run at that moment (itself included), then takes 300 ms.
        func job(_ name: String) -> SSHJob {
            SSHJob(target: sshd.target(name), commands: [SSHCommand(
                "touch \(marks)/running/\(name); ls \(marks)/running | wc -l > \(marks)/counts/\(name); sleep 0.3; rm \(marks)/running/\(name)")])
        }
        let order = Mutex<[String]>([])
        async let first: Void = {
            for await outcome in small.fanOut((1...6).map { job("a\($0)") }, concurrency: 6, run: 1) { order.withLock { $0.append(outcome.target.name) } }
        }()
        try await Task.sleep(for: .milliseconds(100))
        for await outcome in small.fanOut([job("b1"), job("b2")], concurrency: 2, run: 2) { order.withLock { $0.append(outcome.target.name) } }
        await first
        let finished = order.withLock { $0 }
        #expect(finished.count == 8)
        #expect(finished.firstIndex(of: "b2")! < finished.firstIndex(of: "a6")!, "run 2 waited for all of run 1: \(finished)")
        let counts = try ((1...6).map { "a\($0)" } + ["b1", "b2"]).map { name in
            Int(try String(contentsOfFile: "\(marks)/counts/\(name)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        #expect(counts.count == 8 && counts.allSatisfy { (1...2).contains($0) }, "commands running at once: \(counts)")
    }

    @Test func aThousandOperationsLeaveNoFileDescriptorsOrThreadsBehind() async throws {
        // Warm up the pool's threads first: they are long-lived by design.
        for await _ in executor.fanOut((0..<16).map { _ in SSHJob(target: sshd.target(), commands: [SSHCommand("true")]) }, concurrency: 16) {}
        let (fds, threads) = (SSHDFixture.openFileDescriptors, SSHDFixture.threadCount)
        var failures = 0
        let jobs = (0..<1000).map { SSHJob(target: sshd.target("op\($0)"), commands: [SSHCommand("true")]) }
        for await outcome in executor.fanOut(jobs, concurrency: 16) {
            if case .failure = outcome.result { failures += 1 }
        }
        #expect(failures == 0)
        // Other suites run in this process at the same time: counts may drop, a leak would add ~1000.
        #expect(SSHDFixture.openFileDescriptors <= fds)
        // The pool's threads are fixed; other runtime threads may come and go, but never pile up.
        #expect(SSHDFixture.threadCount <= threads)
    }

    /// The sshd process serving a connection: the parent of the commands it runs.
    static func server(_ outcome: HostOutcome) throws -> String {
        String(decoding: try outcome.result.get()[0].stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func keptConnectionsAreReusedReplacedWhenTheHostClosedThemAndDrained() async throws {
        let sessions = SessionPool(idleTimeout: .seconds(60))
        let pooled = SSHExecutor(threads: 4, sessions: sessions)
        func run(_ target: SSHTarget) async -> HostOutcome {
            await pooled.run(SSHJob(target: target, commands: [SSHCommand("echo $PPID", stopOnHost: false)]))
        }
        let first = await run(sshd.target("a"))
        let second = await run(sshd.target("b"))
        #expect(!first.reusedConnection && second.reusedConnection)
        #expect(sshd.connectionsHeld == 1, "one connection, kept")
        #expect(try Self.server(first) == Self.server(second), "the same sshd connection served both")
        #expect(second.hostKey == sshd.hostKeyFingerprint && sessions.idleCount == 1)

        // The host ends the connection (sshd restarted, node rebooted): the next operation connects afresh.
        try SSHDFixture.shell("kill \(try Self.server(second))")
        try await Task.sleep(for: .milliseconds(200))
        let third = await run(sshd.target("c"))
        #expect(!third.reusedConnection && (try? Self.server(third)) != (try? Self.server(second)), "\(third.result)")

        // Only pinned hosts are kept; a command that overran leaves its connection closed.
        _ = await run(sshd.target("d", hostKey: .trustOnFirstUse))
        #expect(sessions.idleCount == 1)
        let overran = await pooled.run(SSHJob(target: sshd.target("e"), commands: [SSHCommand("sleep 30", timeout: .seconds(1))]))
        let timedOut = try overran.result.get()[0].timedOut
        #expect(overran.reusedConnection && timedOut && sessions.idleCount == 0)

        _ = await run(sshd.target("f"))
        #expect(sessions.idleCount == 1)
        try await pooled.shutdown()
        #expect(sessions.idleCount == 0 && sshd.connectionsHeld == 0, "every kept connection is closed")
    }

    @Test func keptConnectionsCloseOnceIdleEvenWithNoFurtherOperation() async throws {
        let sessions = SessionPool(idleTimeout: .seconds(1))
        let pooled = SSHExecutor(threads: 2, sessions: sessions)
        _ = await pooled.run(SSHJob(target: sshd.target(), commands: [SSHCommand("true")]))
        #expect(sessions.idleCount == 1)
        var waited = 0
        while sessions.idleCount > 0, waited < 50 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        #expect(sessions.idleCount == 0 && sshd.connectionsHeld == 0, "closed by the executor's sweep about a second after its last use")
        try await pooled.shutdown()
    }
}
