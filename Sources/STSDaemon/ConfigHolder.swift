import STSConfig
import Synchronization

/// The configuration in force, swapped whole on reload (SIGHUP) so that a lookup sees either the old
/// or the new one, never a mix.
public final class ConfigHolder: Sendable {
    private let current: Mutex<DaemonConfig>

    public init(_ config: DaemonConfig) {
        current = Mutex(config)
    }

    public var config: DaemonConfig { current.withLock { $0 } }

    /// The zone for a socketmap name in the configuration in force, without copying the rest of it
    /// (every lookup asks).
    public func zone(named name: String) -> ZoneConfig {
        current.withLock { $0.zone(named: name) }
    }

    public func replace(with config: DaemonConfig) {
        current.withLock { $0 = config }
    }
}
