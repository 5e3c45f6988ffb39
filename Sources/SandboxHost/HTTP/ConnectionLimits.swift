/// How many connections the HTTP server keeps, and for how long it waits on each: without
/// these, silent TCP connections (no key needed) hold descriptors until the process has none.
public struct ConnectionLimits: Sendable {
    /// A new connection's first request head must be complete this soon after it opened
    /// (a silent client, or one sending its head a byte at a time); then it is closed.
    public var headerTimeout: Duration = .seconds(10)
    /// A connection with nothing in flight (a keep-alive between requests) is closed after this,
    /// and so is one whose request body stops arriving for this long. A response being sent is
    /// never cut (Server-Sent Events streams, a slow download).
    public var idleTimeout: Duration = .seconds(60)
    /// Open connections from one client address (IPv6: its /64); beyond it a new one is closed
    /// at once. 0: no cap.
    public var maxPerAddress: Int = 256
    /// Open connections in all; beyond it the server stops accepting until one closes (new ones
    /// wait in the listen backlog). Below the descriptor limit, which the rest of the host needs too.
    public var maxConnections: Int = ConnectionLimits.defaultMaxConnections()

    public init() {}

    /// `SANDBOX_HOST_HEADER_TIMEOUT_MS`, `SANDBOX_HOST_CONNECTION_IDLE_TIMEOUT_MS`,
    /// `SANDBOX_HOST_MAX_CONNECTIONS_PER_ADDRESS`, `SANDBOX_HOST_MAX_CONNECTIONS` over the defaults.
    public static func fromEnvironment(_ environment: [String: String]) -> ConnectionLimits {
        var limits = ConnectionLimits()
        if let value = environment["SANDBOX_HOST_HEADER_TIMEOUT_MS"].flatMap(Int.init), value > 0 { limits.headerTimeout = .milliseconds(value) }
        if let value = environment["SANDBOX_HOST_CONNECTION_IDLE_TIMEOUT_MS"].flatMap(Int.init), value > 0 {
            limits.idleTimeout = .milliseconds(value)
        }
        if let value = environment["SANDBOX_HOST_MAX_CONNECTIONS_PER_ADDRESS"].flatMap(Int.init), value >= 0 { limits.maxPerAddress = value }
        if let value = environment["SANDBOX_HOST_MAX_CONNECTIONS"].flatMap(Int.init), value > 0 {
            limits.maxConnections = min(value, defaultMaxConnections(cap: .max))
        }
        return limits
    }

    /// A third of the descriptor limit less a reserve, at most `cap`: a preview holds two
    /// descriptors per connection (the client's and the app's), staged uploads take up to a fifth
    /// (`MultipartLimits`), and sandboxes and SQLite need their own.
    static func defaultMaxConnections(cap: Int = 10_000) -> Int {
        let soft = DescriptorLimit.soft
        return max(64, min(cap, (soft - 1_024) / 3))
    }
}
