import ArgumentParser
import STSCore
import STSDNS
import STSDNSStage
import STSStage

@main
struct DNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sts-dns",
        abstract: "Discover MTA-STS: look up the _mta-sts TXT record of each domain (RFC 8461 §3.1).",
        discussion: """
            Reads records (one JSON object per line, or a bare domain name per line) on standard input and \
            writes each one back with a "txt" key added: found (with the policy id), none (with the reason), \
            or an error with a stable kind. With --dane (and --trust-anchor) also a "dane" key: whether the \
            domain's MX hosts publish DNSSEC-signed TLSA records (RFC 7672). See sts-dns(1).

            Example: echo example.com | sts-dns
            """
    )

    @Option(name: .customLong("resolver"), help: ArgumentHelp("A recursive resolver to ask, ADDRESS or ADDRESS@PORT; repeat for more. Default: the ones in --resolv-conf.", valueName: "address"))
    var resolvers: [String] = []

    @Option(help: ArgumentHelp("The resolv.conf to read when no --resolver is given.", valueName: "file"))
    var resolvConf = "/etc/resolv.conf"

    @Option(help: ArgumentHelp("Seconds one lookup may take before it is a dns-timeout error.", valueName: "seconds"))
    var timeout: Double = 10

    @Option(help: ArgumentHelp("Validate DNSSEC with this trust anchor file (DS or DNSKEY records); bogus answers become dns-bogus errors.", valueName: "file"))
    var trustAnchor: String?

    @Flag(help: "Also look up DANE: the MX records and each MX host's TLSA records (needs --trust-anchor to prove anything).")
    var dane = false

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func validate() throws {
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be more than 0 and at most 600 seconds") }
    }

    func run() async throws {
        let configuration = ResolverConfiguration(
            forwarders: resolvers,
            resolvConf: resolvConf,
            trustAnchorFile: trustAnchor,
            timeout: .milliseconds(Int64(timeout * 1000))
        )
        let resolver: UnboundResolver
        do {
            resolver = try UnboundResolver(configuration)
        } catch {
            CommandFailure.exit("sts-dns", error.message)
        }
        await StageRunner(stage, defaultConcurrency: 256).run(DiscoveryStage(resolver: resolver, dane: dane))
    }
}
