#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import STSCore

/// The one JSON-line loop every stage runs: read records from stdin, process up to `concurrency` of
/// them at once, write each result as one flushed line as soon as it is done (or in input order with
/// `ordered`), and at end of input finish what is in flight and return.
public struct StageRunner: Sendable {
    public static let defaultMaxLineBytes = 1 << 20

    public var concurrency: Int
    public var ordered: Bool
    public var maxLineBytes: Int

    public init(concurrency: Int, ordered: Bool = false, maxLineBytes: Int = defaultMaxLineBytes) {
        self.concurrency = max(1, concurrency)
        self.ordered = ordered
        self.maxLineBytes = maxLineBytes
    }

    public init(_ options: StageOptions, defaultConcurrency: Int) {
        self.init(concurrency: options.concurrency ?? defaultConcurrency, ordered: options.ordered, maxLineBytes: options.maxLineBytes)
    }

    /// An input line with its place in the stream.
    struct Numbered: Sendable {
        var sequence: Int
        var lineNumber: Int
        var line: LineReader.Line
    }

    public func run(_ stage: some RecordStage, input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) async {
        // A downstream reader that goes away should end us quietly, not with a signal mid-write.
        signal(SIGPIPE, SIG_IGN)
        let permits = DispatchSemaphore(value: concurrency)
        let writer = OutputWriter(fd: output, ordered: ordered, onWritten: { permits.signal() })
        let maxLineBytes = self.maxLineBytes

        // Reading blocks, so it has a thread of its own; the permit it takes before handing a line on
        // is what bounds the work (and, ordered, the lines waiting to be written) to `concurrency`.
        let lines = AsyncStream<Numbered> { continuation in
            DetachedThread.start(name: "sts-stage-input") {
                var reader = LineReader(fd: input, maxLineBytes: maxLineBytes)
                var sequence = 0
                var lineNumber = 0
                while let line = reader.next() {
                    lineNumber += 1
                    if case .bytes(let bytes) = line, bytes.trimmingASCIIWhitespace().isEmpty { continue }
                    permits.wait()
                    continuation.yield(Numbered(sequence: sequence, lineNumber: lineNumber, line: line))
                    sequence += 1
                }
                continuation.finish()
            }
        }

        await withDiscardingTaskGroup { group in
            for await numbered in lines {
                group.addTask {
                    let record = await Self.handle(numbered, stage: stage, maxLineBytes: maxLineBytes)
                    writer.emit(sequence: numbered.sequence, line: JSONWriter.bytes(.object(record)))
                }
            }
        }
    }

    static func handle(_ numbered: Numbered, stage: some RecordStage, maxLineBytes: Int) async -> JSONObject {
        switch InputDecoder.decode(numbered.line, lineNumber: numbered.lineNumber, maxLineBytes: maxLineBytes) {
        case .none:
            // Blank lines never get here (the reader skips them); keep the type total.
            return [:]
        case .failure(let error)?:
            return error.record
        case .success(let record)?:
            // A record that already failed upstream is passed on untouched.
            if record["error"] != nil { return record }
            return await stage.process(record)
        }
    }
}
