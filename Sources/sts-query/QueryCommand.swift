import ArgumentParser
import Dispatch
import STSCore
import STSStage
import STSVerdict
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

@main
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sts-query",
        abstract: "Check a domain's MTA-STS policy end to end and show what Postfix would be told.",
        discussion: """
            Runs sts-dns | sts-fetch | sts-parse (found next to this program, or on PATH) for DOMAIN, or for \
            every domain on standard input (one per line) when no DOMAIN is given, and prints a verdict: the \
            TXT record and id, the fetch, the policy, and the exact answer sts-socketmapd gives Postfix. \
            With KNOWN_ID, a domain whose TXT id is still KNOWN_ID is reported unchanged without fetching.

            Exit status: 0 every domain has a policy (or it is unchanged), 1 some domain has none, \
            3 some lookup failed or a policy is invalid, 2 usage or start-up error. See sts-query(1).
            """
    )

    @Argument(help: "The domain to check. Without it, domains are read from standard input.")
    var domain: String?

    @Argument(help: "The policy id you already know: if the TXT id is the same, nothing is fetched.")
    var knownID: String?

    @Flag(help: "Print one JSON object per domain (the pipeline's record plus \"verdict\").")
    var json = false

    @Option(name: [.short, .customLong("verbosity")], help: ArgumentHelp("Logging verbosity: debug, info, warn, error, fatal or crit; debug also prints each full record.", valueName: "level"))
    var verbosity: String = "warn"

    @Option(name: .customLong("resolver"), help: ArgumentHelp("A recursive resolver for sts-dns, ADDRESS[@PORT]; repeat for more.", valueName: "address"))
    var resolvers: [String] = []

    @Option(help: ArgumentHelp("Also look up DANE, validated with this DNSSEC trust anchor (e.g. /usr/share/dns/root.key), and answer as the daemon with dnssec_trust_anchor does: dane-only or dane over MTA-STS.", valueName: "file"))
    var trustAnchor: String?

    @Option(help: ArgumentHelp("CA bundle for sts-fetch instead of the system's.", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("Seconds each DNS lookup and each HTTPS fetch may take.", valueName: "seconds"))
    var timeout: Double?

    @Flag(name: .customLong("no-sni"), help: "Answer as for a zone with require_sni: false (no servername=hostname).")
    var noSNI = false

    @Flag(help: "Answer as for a zone with strict_testing: true (enforce testing-mode policies).")
    var strictTesting = false

    @Flag(help: "Add the TLSRPT attributes to the answer, as for a zone with tlsrpt: true (Postfix >= 3.10).")
    var tlsrpt = false

    @Option(help: ArgumentHelp("How many domains are checked at once.", valueName: "n"))
    var concurrency: Int = 64

    @Flag(help: "Report domains in input order.")
    var ordered = false

    /// ArgumentParser exits 64 (EX_USAGE) on a bad option or value; sts-query(1) says 2, as the
    /// mta-sts-query it stands in for (argparse) does. Help and the rest are left to ArgumentParser.
    static func main() {
        var command: QueryCommand
        do {
            command = try parse()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            _ = FileDescriptorWriter.writeAll(STDERR_FILENO, Array((fullMessage(for: error) + "\n").utf8))
            Glibc.exit(2)
        }
        do {
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    func validate() throws {
        guard ["debug", "info", "warn", "error", "fatal", "crit"].contains(verbosity) else {
            throw ValidationError("-v must be one of debug, info, warn, error, fatal, crit")
        }
        if let timeout, !(timeout > 0 && timeout <= 600) { throw ValidationError("--timeout must be more than 0 and at most 600") }
        guard (1...10_000).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 10000") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let stageFlags = ["--concurrency", String(concurrency)] + (ordered || domain != nil ? ["--ordered"] : [])
        var dns = stageFlags
        for resolver in resolvers { dns += ["--resolver", resolver] }
        if let trustAnchor { dns += ["--dane", "--trust-anchor", trustAnchor] }
        var fetch = stageFlags
        if let caFile { fetch += ["--ca-file", caFile] }
        if let timeout {
            dns += ["--timeout", String(timeout)]
            fetch += ["--timeout", String(timeout)]
        }
        let pipeline: StagePipeline
        do {
            pipeline = try StagePipeline([.init("sts-dns", dns), .init("sts-fetch", fetch), .init("sts-parse", stageFlags)])
        } catch {
            CommandFailure.exit("sts-query", error.message)
        }

        let knownID = self.knownID
        let single = domain
        let inputFD = pipeline.inputFD
        let inputClosed = Atomic(false)
        let feeder = DispatchQueue(label: "sts-query-input")
        feeder.async {
            // Not the stages' writer, which exits 0 when its reader goes away: ours is sts-dns, and it
            // goes away only when it could not start or died, which its exit status tells below.
            let writer = OutputWriter(fd: inputFD, ordered: false, onFailure: .report)
            func send(_ name: String, _ sequence: Int) -> Bool {
                var record: JSONObject = ["domain": .string(name)]
                if let knownID { record["cache"] = ["policy_id": .string(knownID), "fresh": true] }
                return writer.emit(sequence: sequence, line: JSONWriter.bytes(.object(record)))
            }
            if let single {
                _ = send(single, 0)
            } else {
                var reader = LineReader(fd: STDIN_FILENO, maxLineBytes: 4096)
                var sequence = 0
                while let line = reader.next() {
                    // A line too long to be a name is still reported (as the invalid name it starts with),
                    // so that every line of a list gets its verdict.
                    let bytes: [UInt8]
                    switch line {
                    case .bytes(let whole): bytes = whole
                    case .tooLong(_, let start): bytes = start
                    }
                    let name = String(decoding: bytes, as: UTF8.self).trimming(" \t")
                    if name.isEmpty || name.hasPrefix("#") { continue }
                    guard send(name, sequence) else { break }
                    sequence += 1
                }
            }
            // Before the close: once sts-dns can see the end, so can we.
            inputClosed.store(true, ordering: .sequentiallyConsistent)
            pipeline.finishInput()
        }

        // Each result is written (and so reaches a pipe) as soon as it is ready, as the stages do.
        let output = OutputWriter(fd: STDOUT_FILENO, ordered: false, onFailure: .report)
        func show(_ text: String) {
            if output.emit(sequence: 0, line: Array(text.utf8)) { return }
            // Nobody gets the rest: stop now, stages included. Not 0: not every domain was checked.
            pipeline.terminate()
            guard let failure = output.failure, !failure.readerGone else { Glibc.exit(Self.cutShort) }
            CommandFailure.exit("sts-query", "cannot write the output: \(failure.message)", code: Self.cutShort)
        }

        let options = ZoneOptions(requireSNI: !noSNI, strictTesting: strictTesting, tlsrpt: tlsrpt)
        var worst = 0
        var first = true
        var reader = LineReader(fd: pipeline.outputFD, maxLineBytes: 64 << 20)
        while let line = reader.next() {
            guard case .bytes(let bytes) = line, case .object(var record)? = try? JSONParser.parse(bytes) else { continue }
            let verdict = Verdict.of(record, options: options)
            worst = max(worst, Self.severity(verdict.outcome))
            if json {
                record["verdict"] = verdict.json
                show(JSONWriter.string(.object(record)))
            } else {
                var block = (first ? "" : "\n") + QueryReport.text(record, verdict: verdict)
                first = false
                if verbosity == "debug" { block += "\n" + JSONWriter.string(.object(record)) }
                show(block)
            }
        }
        // The last stage is done while input is still open: a stage died, and those before it would
        // only notice at their next write, which a slow standard input (a terminal) may never bring.
        let broken = !inputClosed.load(ordering: .sequentiallyConsistent)
        if broken { pipeline.terminate() }
        let statuses = pipeline.exitStatuses()
        // A stage that could not start (2, or 64 for options it refused) has said why on stderr.
        if statuses.contains(where: { $0 == 2 || $0 == 64 }) { Glibc.exit(2) }
        let failed = zip(pipeline.children, statuses).filter { $0.1 != 0 && !(broken && $0.1 == 128 + SIGTERM) }
        if let (child, status) = failed.first {
            CommandFailure.exit("sts-query", "\(child.name) stopped with status \(status): the domains it had not finished are not reported", code: Self.cutShort)
        }
        if broken {
            CommandFailure.exit("sts-query", "the stages stopped before the end of the input: the domains not reported were not checked", code: Self.cutShort)
        }
        throw ExitCode(Int32(worst))
    }

    /// The exit status of a run cut short (a stage died, the output could not be written): some domains
    /// went unchecked, so it is never 0 or 1; as for a failed lookup.
    static let cutShort: Int32 = 3

    /// Exit status for an outcome: the worst over all domains wins.
    static func severity(_ outcome: Verdict.Outcome) -> Int {
        switch outcome {
        case .policy, .unchanged: 0
        case .noPolicy: 1
        case .error: 3
        }
    }
}

