import ArgumentParser

/// The options every stage shares; each stage command includes them with `@OptionGroup`.
public struct StageOptions: ParsableArguments, Sendable {
    @Option(help: ArgumentHelp("How many records are worked on at once.", valueName: "n"))
    public var concurrency: Int?

    @Flag(help: "Write results in input order instead of as soon as each is done.")
    public var ordered = false

    @Option(help: ArgumentHelp("Longest input line accepted, in bytes; a longer one becomes an error record.", valueName: "bytes"))
    public var maxLineBytes: Int = StageRunner.defaultMaxLineBytes

    public init() {}

    public func validate() throws {
        if let concurrency, !(1...100_000).contains(concurrency) {
            throw ValidationError("--concurrency must be between 1 and 100000")
        }
        guard (1024...(64 << 20)).contains(maxLineBytes) else {
            throw ValidationError("--max-line-bytes must be between 1024 and 67108864")
        }
    }
}
