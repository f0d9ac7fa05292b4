import ArgumentParser
import STSCore
import STSParseStage
import STSStage

@main
struct ParseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sts-parse",
        abstract: "Validate MTA-STS policies (RFC 8461 §3.2).",
        discussion: """
            Reads records on standard input and adds a "policy" key to each one that carries a fetched \
            policy body in "fetch.body": the validated policy, or an sts-policy-invalid error naming the rule \
            that failed. With --file, checks one local policy file instead and exits 1 if it is invalid. \
            See sts-parse(1).

            Example: sts-dns < domains.txt | sts-fetch | sts-parse
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Check this policy file (e.g. your own mta-sts.txt) and exit: 0 valid, 1 invalid.", valueName: "file"))
    var file: String?

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func run() async throws {
        guard let file else {
            await StageRunner(stage, defaultConcurrency: 8).run(ParseStage())
            return
        }
        let body: [UInt8]
        do {
            body = try FileContents.read(file, limit: PolicyParser.maxBodyBytes + 1)
        } catch {
            CommandFailure.exit("sts-parse", error.message)
        }
        let policy = ParseStage.evaluate(body)
        print(JSONWriter.string(["file": .string(file), "policy": policy]))
        if let message = policy["error"]?["message"]?.stringValue {
            CommandFailure.exit("sts-parse", "\(file) is not a valid MTA-STS policy: \(message)", code: 1)
        }
    }
}
