import Logging
import SandboxRuntime

extension NetworkManager {
    /// The host's sandbox network, started: nil (after one warning line saying why) when this
    /// machine cannot give sandboxes a network (no usable nftables, read-only network settings, a
    /// range a host route uses). Sandboxes then have their own loopback only. Blocking: at host
    /// start.
    /// The second value says why not, when nil.
    public static func startIfUsable(configuration: NetworkConfiguration, dataDir: String, logger: Logger) -> (NetworkManager?, String) {
        guard let filter = defaultFilter() else {
            logger.warning("sandbox networking disabled: no packet filter in this build; sandboxes have loopback only")
            return (nil, "no packet filter in this build")
        }
        do {
            let manager = try NetworkManager(configuration: configuration, dataDir: dataDir, filter: filter, logger: logger)
            try manager.start()
            logger.info("sandbox networking on", metadata: ["range": "\(configuration.range)", "resolver": "\(manager.resolverAddress)"])
            return (manager, "")
        } catch {
            logger.warning("sandbox networking disabled: \(error); sandboxes have loopback only")
            return (nil, "\(error)")
        }
    }

    /// The packet filter sandboxes' traffic goes through: nftables, in-process (libnftables).
    static func defaultFilter() -> (any PacketFilter)? {
        NftablesFilter()
    }
}
