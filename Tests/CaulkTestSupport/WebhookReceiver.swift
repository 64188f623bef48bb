import Crypto
import Foundation

/// A real HTTP server on 127.0.0.1 (Python's http.server, a process of its own) that records
/// every POST it gets, headers and body, and answers with the statuses it was given, in order
/// (200 once they run out; a 429 says Retry-After: 1).
public final class WebhookReceiver: @unchecked Sendable {
    public struct Received: Decodable, Sendable {
        public let path: String
        /// Header names in lowercase.
        public let headers: [String: String]
        public let body: String

        /// What a receiver checks to trust it: `X-Caulk-Signature` is the HMAC-SHA256 of
        /// `X-Caulk-Timestamp`, a dot and the body, under the webhook's secret.
        public func isSigned(by secret: String) -> Bool {
            guard let timestamp = headers["x-caulk-timestamp"] else { return false }
            let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
            return headers["x-caulk-signature"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
        }
    }

    /// `http://127.0.0.1:PORT`.
    public let url: String
    public let port: Int
    private let process: Process
    private let log: URL

    public init(answers: [Int] = []) throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "caulk-receiver-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        log = directory.appending(path: "requests.jsonl")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, log.path, answers.map(String.init).joined(separator: ",")]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while let byte = try out.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else {
            process.terminate()
            throw Command.Failure("the webhook receiver did not start (is python3 installed?)")
        }
        self.port = port
        url = "http://127.0.0.1:\(port)"
    }

    deinit { stop() }

    public func stop() {
        Command.stop(process)
    }

    /// Every request so far, in the order they came.
    public func requests() -> [Received] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Received.self, from: Data($0.utf8)) }
    }

    /// Waits until at least `count` requests came, or `seconds` passed; returns them all.
    public func wait(for count: Int, seconds: Double = 30) async throws -> [Received] {
        let deadline = Date().addingTimeInterval(seconds)
        while requests().count < count, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        return requests()
    }

    private static let script = #"""
        import http.server, json, sys
        log, answers = sys.argv[1], [int(a) for a in sys.argv[2].split(",") if a]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with open(log, "a") as out:
                    out.write(json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body.decode()}) + "\n")
                status = answers.pop(0) if answers else 200
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "7")
                self.end_headers()
                self.wfile.write(b"answer\n")

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
}
