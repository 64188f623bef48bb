import CLibSSH2
import Foundation

extension Session {
    static let openChannel = "open channel"

    /// Runs one command on a new channel: stdout and stderr read apart and capped, the exit
    /// status read only after the channel closed, the channel closed at the command's timeout.
    /// `openWithin`: a shorter bound for opening the channel (a kept session proving it is alive).
    /// `become`: run it as this user through `sudo -n`.
    func exec(_ command: SSHCommand, become: String? = nil, options: SSHOptions, openWithin: Duration? = nil) throws(SSHError) -> CommandResult {
        let started = ContinuousClock.now
        let deadline = Deadline(after: command.timeout)
        let wire = command.wire(become: become)
        let openDeadline = openWithin.map { Deadline(after: min($0, command.timeout)) } ?? deadline
        let channel = try retry(Self.openChannel, kind: .channel, until: openDeadline) { caulk_channel_open_session(raw) }
        var result = CommandResult(
            command: command.command, exitStatus: nil, exitSignal: nil, stdout: [], stderr: [],
            stdoutTruncated: false, stderrTruncated: false, timedOut: false, duration: .zero)
        defer { free(channel, wait: !result.timedOut) }
        do throws(SSHError) {
            try retry("start command", kind: .channel, until: deadline) {
                caulk_channel_exec(channel, wire, UInt32(wire.utf8.count))
            }
            if let input = command.stdin { try send(input, to: channel, until: deadline) }
            try drain(channel, into: &result, cap: options.outputCap, until: deadline, keepalive: options.keepaliveInterval)
        } catch where error.kind == .timeout {
            result.timedOut = true
        }
        if result.timedOut {
            // Close without waiting for the remote side: the command overran, the channel goes.
            _ = libssh2_channel_close(channel)
        } else {
            let closeDeadline = Deadline(after: .seconds(10))
            try retry("close channel", kind: .channel, until: closeDeadline) { libssh2_channel_close(channel) }
            try retry("wait for channel close", kind: .channel, until: closeDeadline) { libssh2_channel_wait_closed(channel) }
            result.exitStatus = libssh2_channel_get_exit_status(channel)
            result.exitSignal = exitSignal(channel)
            if result.exitSignal != nil { result.exitStatus = nil }
        }
        result.duration = ContinuousClock.now - started
        return result
    }

    /// Writes all of `input` to the command's standard input, then end of file. Small inputs
    /// (a token, a settings file) fit the channel's window at once.
    private func send(_ input: [UInt8], to channel: OpaquePointer, until deadline: Deadline) throws(SSHError) {
        var offset = 0
        while offset < input.count {
            let n = input[offset...].withUnsafeBytes { caulk_channel_write(channel, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
            if n > 0 {
                offset += n
            } else if Int32(n) == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(until: deadline, operation: "write standard input")
            } else {
                throw error(.channel, "write standard input", code: Int32(n))
            }
        }
        try retry("close standard input", kind: .channel, until: deadline) { libssh2_channel_send_eof(channel) }
    }

    private func drain(_ channel: OpaquePointer, into result: inout CommandResult, cap: Int, until deadline: Deadline, keepalive: Duration) throws(SSHError) {
        var buffer = [CChar](repeating: 0, count: 32 * 1024)
        var nextKeepalive = Deadline(after: keepalive)
        while true {
            var progressed = false
            for stderr in [false, true] {
                let n = buffer.withUnsafeMutableBufferPointer { pointer in
                    stderr
                        ? caulk_channel_read_stderr(channel, pointer.baseAddress, pointer.count)
                        : caulk_channel_read_stdout(channel, pointer.baseAddress, pointer.count)
                }
                if n > 0 {
                    progressed = true
                    append(buffer, count: n, to: &result, stderr: stderr, cap: cap)
                } else if n < 0 && Int32(n) != LIBSSH2_ERROR_EAGAIN {
                    throw error(.channel, "read output", code: Int32(n))
                }
            }
            if progressed { continue }
            if libssh2_channel_eof(channel) != 0 { return }
            if nextKeepalive.expired {
                var seconds: Int32 = 0
                _ = libssh2_keepalive_send(raw, &seconds)
                nextKeepalive = Deadline(after: keepalive)
            }
            if deadline.expired { throw SSHError(.timeout, host: name, operation: "run command", message: "timed out") }
            // Waking for a keepalive is not a timeout: only the command's own deadline is.
            do throws(SSHError) {
                try waitSocket(until: Deadline.earliest(deadline, nextKeepalive), operation: "run command")
            } catch where error.kind == .timeout {
                continue
            }
        }
    }

    private func append(_ buffer: [CChar], count: Int, to result: inout CommandResult, stderr: Bool, cap: Int) {
        buffer.withUnsafeBytes { raw in
            let bytes = raw.prefix(count)
            if stderr {
                let room = max(0, cap - result.stderr.count)
                result.stderr += bytes.prefix(room)
                if bytes.count > room { result.stderrTruncated = true }
            } else {
                let room = max(0, cap - result.stdout.count)
                result.stdout += bytes.prefix(room)
                if bytes.count > room { result.stdoutTruncated = true }
            }
        }
    }

    private func exitSignal(_ channel: OpaquePointer) -> String? {
        var signal: UnsafeMutablePointer<CChar>?
        var length = 0
        guard libssh2_channel_get_exit_signal(channel, &signal, &length, nil, nil, nil, nil) == 0, let signal else { return nil }
        defer { libssh2_free(raw, signal) }
        return length > 0 ? String(cString: signal) : nil
    }

    /// Frees the channel; after a timeout without waiting (the session's own free reclaims it).
    private func free(_ channel: OpaquePointer, wait: Bool) {
        let deadline = Deadline(after: wait ? .seconds(2) : .zero)
        while libssh2_channel_free(channel) == LIBSSH2_ERROR_EAGAIN && !deadline.expired {
            _ = try? waitSocket(until: deadline, operation: "free channel")
        }
    }
}
