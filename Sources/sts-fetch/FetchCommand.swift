import ArgumentParser
import STSCore
import STSFetch
import STSStage
import STSStages

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

    @Option(help: ArgumentHelp("Seconds to connect (TCP and TLS).", valueName: "seconds"))
    var connectTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds for the whole fetch.", valueName: "seconds"))
    var timeout: Double = 30

    @Option(help: ArgumentHelp("CA bundle to trust instead of the system's.", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("Hashed CA directory to trust instead of the system's.", valueName: "dir"))
    var caPath: String?

    @Option(help: ArgumentHelp("The User-Agent header.", valueName: "text"))
    var userAgent: String = FetchConfiguration.defaultUserAgent

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func validate() throws {
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be more than 0 and at most 600 seconds") }
        guard connectTimeout > 0, connectTimeout <= 600 else { throw ValidationError("--connect-timeout must be more than 0 and at most 600 seconds") }
    }

    func run() async throws {
        let configuration = FetchConfiguration(connectTimeout: connectTimeout, timeout: timeout, caFile: caFile, caPath: caPath, userAgent: userAgent)
        let fetcher: PolicyFetcher
        do {
            fetcher = try PolicyFetcher(configuration)
        } catch {
            CommandFailure.exit("sts-fetch", error.message)
        }
        await StageRunner(stage, defaultConcurrency: 64).run(FetchStage(fetcher: fetcher))
    }
}
