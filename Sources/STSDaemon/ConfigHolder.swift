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

    public func replace(with config: DaemonConfig) {
        current.withLock { $0 = config }
    }
}
