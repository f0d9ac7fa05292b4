#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import STSCache
import STSCacheStages
import STSCore
import STSStage

struct Dump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write every entry as one JSON line, in domain order.",
        usage: BackendOptions.usage("dump"),
        discussion: """
            {"domain":D,"policy_id":ID or null,"policy":{...} or null,"fetched_at":T,"confirmed_at":T, \
            "expires_at":T,"failed_at":T,"failed_id":ID} (times in Unix seconds; the failure fields only \
            after a failed fetch). The same form is what ops put takes.
            """
    )

    @ParentCommand var root: CacheCommand

    func validate() throws { try root.backend.check() }

    func run() async throws {
        let backend = root.backend.open()
        var output = LineOutput()
        do {
            try await CacheScan.forEach(backend) { output.write(JSONWriter.string($0.json)) }
        } catch {
            CommandFailure.exit("sts-cache", error.message)
        }
        await backend.close()
        output.flush()
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the cached policies as a Postfix TLS policy table (domain<TAB>answer) for postmap.",
        usage: BackendOptions.usage("export [--no-sni] [--strict-testing] [--tlsrpt] [--include-expired]"),
        discussion: """
            One line per entry whose policy gives Postfix an answer, e.g. \
            "example.com<TAB>secure match=mail.example.com:.example.net servername=hostname", the answer \
            sts-socketmapd gives. Negative entries, policies in mode none (and testing, without \
            --strict-testing) and expired entries (without --include-expired) are left out.

            Example: sts-cache --sqlite c.db export > tls_policy && postmap hash:tls_policy
            """
    )

    @ParentCommand var root: CacheCommand

    @Flag(help: "Leave out servername=hostname (zone option require_sni: false; Postfix before 3.4).")
    var noSNI = false

    @Flag(help: "Enforce policies in testing mode too (zone option strict_testing).")
    var strictTesting = false

    @Flag(help: "Add the TLSRPT attributes (zone option tlsrpt; Postfix 3.10 and later).")
    var tlsrpt = false

    @Flag(help: "Export expired entries too.")
    var includeExpired = false

    func validate() throws { try root.backend.check() }

    func run() async throws {
        let backend = root.backend.open()
        let options = ZoneOptions(requireSNI: !noSNI, strictTesting: strictTesting, tlsrpt: tlsrpt)
        let now = UnixTime.now()
        var output = LineOutput()
        do {
            try await CacheScan.forEach(backend) { entry in
                switch CacheScan.exportLine(entry, options: options, includeExpired: includeExpired, at: now) {
                case .line(let line): output.write(line)
                case .skipped: break
                case .tooLarge(let size): output.warn("\(entry.domain) left out: its answer is \(size) bytes, more than Postfix accepts")
                }
            }
        } catch {
            CommandFailure.exit("sts-cache", error.message)
        }
        await backend.close()
        output.flush()
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete the entries of the given domains, or all entries; prints how many were removed.",
        usage: BackendOptions.usage("purge (<domain> ... | --all)"),
        discussion: "Example: sts-cache --sqlite c.db purge example.com example.net"
    )

    @ParentCommand var root: CacheCommand

    @Argument(help: ArgumentHelp("Policy domains whose entries to delete.", valueName: "domain"))
    var domains: [String] = []

    @Flag(help: "Delete every entry.")
    var all = false

    func validate() throws {
        try root.backend.check()
        guard domains.isEmpty == all else { throw ValidationError("give either domains or --all") }
    }

    func run() async throws {
        // Every name is checked before anything is deleted.
        var names: [String] = []
        for domain in domains {
            do {
                names.append(try DomainName.normalize(domain))
            } catch {
                CommandFailure.exit("sts-cache", "cannot purge \"\(domain)\": \(error.message)")
            }
        }
        let backend = root.backend.open()
        let removed: Int
        do {
            removed = all ? try await CacheScan.purgeAll(backend) : try await CacheScan.purge(backend, domains: names)
        } catch {
            CommandFailure.exit("sts-cache", error.message)
        }
        await backend.close()
        var output = LineOutput()
        output.write(String(removed))
        output.flush()
    }
}

/// Lines to standard output through a buffer, written whole.
struct LineOutput {
    private var buffer: [UInt8] = []

    init() {
        // A reader that goes away (| head) ends us quietly, not with a signal mid-write.
        signal(SIGPIPE, SIG_IGN)
    }

    mutating func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= 64 * 1024 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        if !FileDescriptorWriter.writeAll(STDOUT_FILENO, buffer) {
            if errno == EPIPE { exit(0) }
            CommandFailure.exit("sts-cache", "cannot write the output: \(String(cString: strerror(errno)))", code: 1)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// A note on standard error, after what is already due on standard output.
    mutating func warn(_ message: String) {
        flush()
        _ = FileDescriptorWriter.writeAll(STDERR_FILENO, Array("sts-cache: \(message)\n".utf8))
    }
}
