import ArgumentParser
import STSCache
import STSCacheStages
import STSCore
import STSStage

struct Lookup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stage: add each record's cached entry as \"cache\".",
        usage: BackendOptions.usage("lookup [<stage options>]"),
        discussion: """
            For each record adds "cache": {"status":"hit","fresh":BOOL,"negative":BOOL,"expired":BOOL, \
            "policy_id":ID,"expires_at":SECONDS,"backoff_id":ID,"entry":{...}} or {"status":"miss"}. \
            After sts-dns (txt.status "found"), fresh means the entry holds an unexpired policy under that \
            very id that need not be fetched again, and sts-fetch skips the fetch; without a found TXT record, \
            fresh means the entry was confirmed less than --grace seconds ago. backoff_id (when present) is an \
            id whose fetch failed less than 5 minutes ago; sts-fetch skips that too. A backend failure gives \
            {"status":"error","error":{...}} and the stage goes on.

            Example: sts-dns < d.txt | sts-cache --sqlite c.db lookup | sts-fetch
            """
    )

    @ParentCommand var root: CacheCommand

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func validate() throws { try root.backend.check() }

    func run() async throws {
        await root.backend.runStage(stage, defaultConcurrency: 64) { CacheLookupStage(backend: $0, rules: $1) }
    }
}

struct Store: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stage: store what each record learnt (after sts-parse) and add \"cache\".",
        usage: BackendOptions.usage("store [<stage options>]"),
        discussion: """
            Reads "txt", "fetch" and "policy" and applies the cache rules to the cached entry: a valid policy \
            replaces it (mode none too, at once); a failed fetch or an invalid policy keeps an unexpired cached \
            policy and starts a 5-minute back-off for that id; an unchanged id (fetch skipped) confirms it; no \
            policy published stores a negative entry but never evicts a cached policy; a DNS error changes \
            nothing. Adds "cache": {"status":"stored","entry":{...}} or {"status":"unchanged"}, or \
            {"status":"error","error":{...}} for a record that cannot say what it learnt or a backend failure.

            Example: sts-dns < d.txt | sts-fetch | sts-parse | sts-cache --sqlite c.db store
            """
    )

    @ParentCommand var root: CacheCommand

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func validate() throws { try root.backend.check() }

    func run() async throws {
        await root.backend.runStage(stage, defaultConcurrency: 64) { CacheStoreStage(backend: $0, rules: $1) }
    }
}

struct Ops: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stage: get, put, delete and list entries, one operation per record.",
        usage: BackendOptions.usage("ops [<stage options>]"),
        discussion: """
            Each record names an "op": get ("domain"), put ("entry": an entry as dump writes it, checked \
            field by field), delete ("domain"), list ("after": the previous page's "next", "limit": 1 to \
            1000, default 100). The result is added as "cache": get as lookup writes it, put \
            {"status":"stored","entry":{...}}, delete {"status":"deleted"} or {"status":"miss"}, list \
            {"status":"ok","entries":[...],"next":DOMAIN or null}; a refused operation \
            {"status":"error","error":{"kind":"invalid-input",...}}. Operations run one at a time in input \
            order unless --concurrency says otherwise.

            Example: echo '{"op":"get","domain":"example.com"}' | sts-cache --sqlite c.db ops
            """
    )

    @ParentCommand var root: CacheCommand

    @OptionGroup(title: "Stage options")
    var stage: StageOptions

    func validate() throws { try root.backend.check() }

    func run() async throws {
        // One at a time by default: a script's put then get must see the put.
        await root.backend.runStage(stage, defaultConcurrency: 1) { CacheOpsStage(backend: $0, rules: $1) }
    }
}

extension BackendOptions {
    /// Runs a cache stage over the chosen store, which is closed once the input is done.
    func runStage<Stage: RecordStage>(_ options: StageOptions, defaultConcurrency: Int, _ make: (any CacheBackend, CacheRules) -> Stage) async {
        let backend = open()
        await StageRunner(options, defaultConcurrency: defaultConcurrency).run(make(backend, rules))
        await backend.close()
    }
}
