import ArgumentParser
import STSCache
import STSCacheStages
import STSCore
import STSStage

@main
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sts-cache",
        abstract: "The MTA-STS policy cache: a pipeline stage, and the tools to look into it and manage it.",
        discussion: """
            The cache options come before the subcommand and choose the store: --sqlite FILE (kept across runs, \
            shareable with sts-socketmapd), --redis URL, --postgres DSN (shared servers, the daemon's redis and \
            postgres caches) or --memory (for one run only). lookup, store and ops are stages \
            (one JSON object per line in and out) that add a "cache" key to each record; dump, export and purge \
            work on the whole cache. See sts-cache(1).

            Example: sts-dns < d.txt | sts-cache --sqlite c.db lookup | sts-fetch | sts-parse | sts-cache --sqlite c.db store
            """,
        subcommands: [Lookup.self, Store.self, Ops.self, Dump.self, Export.self, Purge.self]
    )

    @OptionGroup(title: "Cache options")
    var backend: BackendOptions
}

/// The store and the rules every subcommand works with.
struct BackendOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The sqlite cache file; created if absent.", valueName: "file"))
    var sqlite: String?

    @Option(help: ArgumentHelp("A redis server: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N], as the daemon's cache.options.url.", valueName: "url"))
    var redis: String?

    @Option(help: ArgumentHelp("A PostgreSQL database: a libpq connection string or postgres:// URI, as the daemon's cache.options.dsn.", valueName: "dsn"))
    var postgres: String?

    @Flag(help: "Keep the cache in memory: it lasts one run (one pipeline stage) only.")
    var memory = false

    @Option(help: ArgumentHelp("Most entries kept; the least recently used are evicted beyond it when writing. Default: 10000 for --memory; no eviction for a shared store (the daemon's cache_size bounds it).", valueName: "n"))
    var cacheSize: Int?

    @Option(help: ArgumentHelp("cache_grace: seconds a cached entry is fresh after its TXT id was last confirmed.", valueName: "seconds"))
    var grace = 60

    /// The usage checks, made by each subcommand's validate() rather than this group's own: the root's
    /// validate() runs before the subcommand is parsed, so a failure there would turn
    /// `sts-cache help lookup` and `sts-cache lookup --help` into a usage error or the root's help.
    func check() throws {
        let chosen = [sqlite != nil, redis != nil, postgres != nil, memory].filter { $0 }.count
        guard chosen == 1 else { throw ValidationError("give exactly one of --sqlite FILE, --redis URL, --postgres DSN and --memory") }
        if let redis {
            do { _ = try RedisEndpoint.parse(url: redis) } catch { throw ValidationError(error.message) }
        }
        if let sqlite, sqlite.isEmpty { throw ValidationError("--sqlite needs a file name") }
        if let cacheSize, cacheSize < 1 { throw ValidationError("--cache-size must be at least 1") }
        guard grace >= 0 else { throw ValidationError("--grace must not be negative") }
    }

    var rules: CacheRules { CacheRules(grace: Int64(grace)) }

    /// A subcommand's usage line: the generated one leaves out the parent's options, so it would show
    /// `sts-cache dump` as complete when a backend must be chosen too.
    static func usage(_ subcommand: String) -> String {
        "sts-cache (--sqlite <file> | --redis <url> | --postgres <dsn> | --memory) [--cache-size <n>] [--grace <seconds>] \(subcommand)"
    }

    /// The store, or a one-line error and exit 2 (a file that cannot be opened, written or read).
    /// A store shared with a daemon is not evicted unless asked: a smaller default here would throw away
    /// what the daemon keeps under its own cache_size.
    var capacity: Int { cacheSize ?? (memory ? 10000 : Int(Int32.max)) }

    func open() -> any CacheBackend {
        if let redis, let endpoint = try? RedisEndpoint.parse(url: redis) { return RedisCache(endpoint: endpoint, capacity: capacity) }
        if let postgres { return PostgresCache(dsn: postgres, capacity: capacity) }
        guard let sqlite else { return MemoryCache(capacity: capacity) }
        do {
            return try SQLiteCache(path: sqlite, capacity: capacity)
        } catch {
            CommandFailure.exit("sts-cache", error.message)
        }
    }
}
