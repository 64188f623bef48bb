import HummingbirdTLS
import NIOSSL

extension ServerConfiguration {
    /// The HTTPS settings from the PEM files, or nil for plain HTTP. A file that cannot be read
    /// or is not PEM of the right kind is an error naming it.
    func tlsConfiguration() throws -> TLSConfiguration? {
        try checkTransport()
        guard let certPath = tlsCert, let keyPath = tlsKey else { return nil }
        let chain = try Self.pem("tls_cert", certPath) { try NIOSSLCertificate.fromPEMFile($0) }
        guard !chain.isEmpty else { throw ConfigurationError("tls_cert \(certPath): no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)") }
        let key = try Self.pem("tls_key", keyPath) { try NIOSSLPrivateKey(file: $0, format: .pem) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let caPath = tlsClientCA {
            let roots = try Self.pem("tls_client_ca", caPath) { try NIOSSLCertificate.fromPEMFile($0) }
            // A client without a certificate this CA signed does not get past the handshake.
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(roots)
        }
        return tls
    }

    private static func pem<T>(_ key: String, _ path: String, _ read: (String) throws -> T) throws -> T {
        do {
            return try read(path)
        } catch {
            throw ConfigurationError("\(key) \(path): cannot read it as PEM (\(error)); check the path, its permissions and that it is PEM, not DER")
        }
    }
}
