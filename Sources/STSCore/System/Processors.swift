import CLibc

/// The machine's processors as this process sees them.
public enum Processors {
    /// The cores this process may run on: its CPU affinity, so a `taskset` or a container's CPU set
    /// counts, not every core of the machine.
    public static var usable: Int { Int(sts_usable_cores()) }
}
