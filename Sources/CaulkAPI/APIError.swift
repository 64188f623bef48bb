/// The one shape of every error the API returns: `{"error": {...}}`.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        /// HTTP status, repeated for clients that only see the body.
        public var status: Int
        /// Stable machine-readable kind: `invalid`, `unauthorized`, `forbidden`, `not_found`, `conflict`, `internal`.
        public var code: String
        /// What went wrong and, where possible, what to do.
        public var message: String
        /// The request field at fault, for `invalid`.
        public var field: String?

        public init(status: Int, code: String, message: String, field: String? = nil) {
            self.status = status
            self.code = code
            self.message = message
            self.field = field
        }
    }

    public var error: Detail

    public init(_ error: Detail) { self.error = error }
}
