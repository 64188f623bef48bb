import Crypto
import Foundation

/// SSH host key fingerprints as OpenSSH prints them: `SHA256:` and unpadded base64 of the
/// SHA-256 of the public key blob.
public enum HostKey {
    static let keyTypes: Set<String> = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
    ]

    /// Accepts a fingerprint (`SHA256:…`), a public key (`ssh-ed25519 AAAA…`) or a known_hosts
    /// line (`host ssh-ed25519 AAAA…`) and returns the fingerprint.
    public static func fingerprint(_ value: String, field: String) throws(DomainError) -> String {
        let text = value.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("SHA256:") {
            let body = text.dropFirst(7)
            let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
            guard body.count == 43, body.allSatisfy({ alphabet.contains($0) }) else {
                throw .invalid(field: field, message: "\(Validate.quoted(text)) is not a SHA256 fingerprint (SHA256: and 43 base64 characters, as `ssh-keygen -lf` prints)")
            }
            return text
        }
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let typeIndex = words.firstIndex(where: { keyTypes.contains($0) }), typeIndex <= 1,
            typeIndex + 1 < words.count
        else {
            throw .invalid(field: field, message: "\(Validate.quoted(text)) is neither a SHA256:… fingerprint nor a known_hosts line with a key type like ssh-ed25519")
        }
        return try fingerprint(type: words[typeIndex], base64: words[typeIndex + 1], field: field)
    }

    /// Fingerprint of a public key blob given in base64, checked against its declared type.
    public static func fingerprint(type: String, base64: String, field: String) throws(DomainError) -> String {
        guard let blob = Data(base64Encoded: base64), blob.count > 4 else {
            throw .invalid(field: field, message: "the \(type) key is not valid base64")
        }
        let length = blob.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard blob.count >= 4 + length, String(decoding: blob.dropFirst(4).prefix(length), as: UTF8.self) == type else {
            throw .invalid(field: field, message: "the key's contents do not match its type \(type)")
        }
        return fingerprint(blob: blob)
    }

    public static func fingerprint(blob: Data) -> String {
        let digest = Data(SHA256.hash(data: blob)).base64EncodedString()
        return "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
    }
}
