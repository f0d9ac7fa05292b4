#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import STSCore
import STSFetch
import STSFetchStage
import STSStage

@main
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sts-fetch",
        abstract: "Fetch MTA-STS policies over HTTPS (RFC 8461 §3.3).",
        discussion: """
            Reads records (as written by sts-dns) on standard input and adds a "fetch" key to each whose \
            TXT record was found: the policy text, or an error with an RFC 8460 kind (sts-webpki-invalid, \
            sts-policy-fetch-error) and a reason. HTTPS only, certificate checked against the system's CA \
            store, TLS 1.2 or newer, status 200 only, no redirects, text/plain only, at most 64 KiB. \
            https_proxy and no_proxy from the environment are honoured. See sts-fetch(1).

            Example: sts-dns < domains.txt | sts-fetch | sts-parse
            """
    )

    @Option(help: ArgumentHelp("Seconds to connect: name lookup, TCP and TLS handshake.", valueName: "seconds"))
    var connectTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds for the whole fetch, connecting included.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(help: ArgumentHelp("CA bundle (PEM) to trust instead of the system's.", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("Hashed CA directory (openssl rehash) to trust instead of the system's.", valueName: "dir"))
    var caPath: String?

    @Option(help: ArgumentHelp("The User-Agent header.", valueName: "text"))
    var userAgent: String = FetchConfiguration.defaultUserAgent

    @Option(help: ArgumentHelp("Threads that make TLS handshakes (the CPU work of a fetch), each with its own libcurl loop. Default: one per core, at most 4.", valueName: "n"))
    var threads: Int?

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func validate() throws {
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be more than 0 and at most 600 seconds") }
        guard connectTimeout > 0, connectTimeout <= 600 else { throw ValidationError("--connect-timeout must be more than 0 and at most 600 seconds") }
        if let threads, !(1...PolicyFetcher.maxThreads).contains(threads) {
            throw ValidationError("--threads must be between 1 and \(PolicyFetcher.maxThreads)")
        }
        guard !userAgent.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw ValidationError("--user-agent must not contain control characters") }
    }

    func run() async throws {
        // A CA file libcurl cannot read would fail every fetch as a TLS error; say so once instead.
        if let caFile, access(caFile, R_OK) != 0 { CommandFailure.exit("sts-fetch", "cannot read the CA file \(caFile)") }
        if let caPath, access(caPath, R_OK | X_OK) != 0 { CommandFailure.exit("sts-fetch", "cannot read the CA directory \(caPath)") }
        PolicyFetcher.globalInit()
        let configuration = FetchConfiguration(connectTimeout: connectTimeout, timeout: timeout, caFile: caFile, caPath: caPath, userAgent: userAgent)
        let fetcher: PolicyFetcher
        do {
            fetcher = try PolicyFetcher(configuration, threads: threads ?? PolicyFetcher.defaultThreads)
        } catch {
            CommandFailure.exit("sts-fetch", error.message)
        }
        await StageRunner(stage, defaultConcurrency: 64).run(FetchStage(fetcher: fetcher))
    }
}
