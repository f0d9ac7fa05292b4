import CCurl
import STSCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Fetches policies over HTTPS with libcurl's multi interface: any number of transfers in flight in
/// each loop thread, which owns its multi handle, each transfer with its own timeouts, so a slow host
/// holds back no one. Transfers reach a loop through a locked queue and `curl_multi_wakeup`; no other
/// thread ever touches its libcurl handles.
///
/// A TLS handshake is CPU work (the certificate chain, the key exchange), so one loop is bound to one
/// core: with `threads` loops, transfers are handed to them in turn.
public final class PolicyFetcher: Sendable {
    public let configuration: FetchConfiguration
    private let loops: [CurlLoop]
    private let turn = Atomic<UInt>(0)

    /// Most loop threads a fetcher runs.
    public static let maxThreads = 64

    /// One loop per core, up to 4: past that a stage fetching policies is rarely CPU-bound.
    public static var defaultThreads: Int { min(Processors.usable, 4) }

    /// libcurl's global set-up. Call it once early, before other threads start; later calls do nothing.
    public static func globalInit() {
        _ = CurlLoop.globalInit
    }

    public init(_ configuration: FetchConfiguration, threads: Int = PolicyFetcher.defaultThreads) throws(STSError) {
        self.configuration = configuration
        let count = min(max(1, threads), Self.maxThreads)
        var loops: [CurlLoop] = []
        for _ in 0..<count { loops.append(try CurlLoop()) }
        self.loops = loops
        for (index, loop) in loops.enumerated() {
            DetachedThread.start(name: "sts-curl-\(index + 1)") { loop.run() }
        }
    }

    /// Fetches the policy of a normalised (A-label) domain. Never throws: a failure is in the outcome.
    ///
    /// `addresses` (canonical IP literals, see `IPAddress.canonical`), when given, are where the policy
    /// host is: libcurl connects to them instead of looking the name up again through the system
    /// resolver (a thread and a lookup per fetch). The certificate is still checked against the host
    /// name.
    public func fetch(domain: String, addresses: [String] = []) async -> FetchOutcome {
        let transferConfiguration = configuration
        return await withCheckedContinuation { continuation in
            nextLoop().submit(Transfer(host: FetchConfiguration.policyHost(for: domain), url: FetchConfiguration.policyURL(for: domain),
                                       addresses: addresses, configuration: transferConfiguration, continuation: continuation))
        }
    }

    private func nextLoop() -> CurlLoop {
        loops[Int(turn.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(loops.count))]
    }
}

/// One transfer: its settings, the body as it arrives, and who waits for it.
final class Transfer: @unchecked Sendable {
    let host: String
    let url: String
    /// Where the host is, for libcurl's address list; empty: libcurl looks it up.
    let addresses: [String]
    let configuration: FetchConfiguration
    let continuation: CheckedContinuation<FetchOutcome, Never>
    // Touched on the loop thread only.
    var body: [UInt8] = []
    var received = 0
    /// The Content-Length of the last response header block (libcurl does not report it when it
    /// refuses the transfer for it).
    var contentLength: Int?
    var overLimit = false
    /// libcurl writes its error message here; it must outlive the easy handle.
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    /// The host as a C string for the TLS context callback (`sts_curl_setopt_dns_id_only`), which
    /// reads it at every connection: it must outlive the easy handle.
    let hostName: UnsafeMutablePointer<CChar>

    /// The `+HOST:443:ADDRESSES` entry given to CURLOPT_RESOLVE; it must live until the handle is gone.
    var resolveList: UnsafeMutablePointer<curl_slist>?

    init(host: String, url: String, addresses: [String] = [], configuration: FetchConfiguration, continuation: CheckedContinuation<FetchOutcome, Never>) {
        self.host = host
        self.url = url
        self.addresses = addresses
        self.configuration = configuration
        self.continuation = continuation
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let name = Array(host.utf8CString)
        hostName = .allocate(capacity: name.count)
        hostName.initialize(from: name, count: name.count)
    }

    deinit {
        errorBuffer.deallocate()
        hostName.deallocate()
        if let resolveList { curl_slist_free_all(resolveList) }
    }

    func fail(_ error: FetchError) {
        continuation.resume(returning: FetchOutcome(url: url, error: error))
    }
}

/// Owns the multi handle and everything attached to it. Everything but `submit` runs on the loop thread.
final class CurlLoop: @unchecked Sendable {
    static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    private let multi: UnsafeMutableRawPointer
    /// TLS sessions shared between transfers (resumption with a host fetched before); no locking is
    /// needed because only the loop thread uses it. Connections and DNS answers the multi shares.
    private let share: UnsafeMutableRawPointer
    private let headers: UnsafeMutablePointer<curl_slist>
    /// Whether to drop libcurl's built-in CA directory (see `systemBundleIsUsable`).
    private let dropDefaultCAPath: Bool
    private let incoming = Mutex<[Transfer]>([])
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    init() throws(STSError) {
        _ = Self.globalInit
        guard let multi = curl_multi_init() else { throw STSError(.internalError, "cannot initialise libcurl") }
        guard let share = curl_share_init() else {
            curl_multi_cleanup(multi)
            throw STSError(.internalError, "cannot initialise a libcurl share")
        }
        sts_curl_share_setopt_long(share, CURLSHOPT_SHARE, Int(CURL_LOCK_DATA_SSL_SESSION.rawValue))
        // libcurl keeps no HTTP cache; this asks any intercepting proxy not to answer from one either.
        guard let headers = curl_slist_append(nil, "Cache-Control: no-cache") else {
            curl_share_cleanup(share)
            curl_multi_cleanup(multi)
            throw STSError(.internalError, "cannot allocate libcurl headers")
        }
        self.multi = multi
        self.share = share
        self.headers = headers
        dropDefaultCAPath = Self.systemBundleIsUsable()
    }

    /// libcurl caches the parsed CA store in the multi handle, but only when no CA directory is set;
    /// Debian's libcurl sets both a bundle and /etc/ssl/certs by default, and parsing the bundle anew
    /// costs tens of milliseconds of this thread per transfer. The bundle holds the same roots as the
    /// directory (update-ca-certificates writes both), so when it is readable the directory is dropped.
    private static func systemBundleIsUsable() -> Bool {
        guard let easy = curl_easy_init() else { return false }
        defer { curl_easy_cleanup(easy) }
        var value: UnsafeMutablePointer<CChar>?
        guard sts_curl_getinfo_string(easy, CURLINFO_CAINFO, &value) == CURLE_OK, let value else { return false }
        return access(value, R_OK) == 0
    }

    func submit(_ transfer: Transfer) {
        incoming.withLock { $0.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func run() {
        var running: Int32 = 0
        while true {
            for transfer in incoming.withLock({ pending -> [Transfer] in defer { pending.removeAll(keepingCapacity: true) }; return pending }) {
                start(transfer)
            }
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                finish(easy, code: Int(message.pointee.data.result.rawValue))
            }
            // Returns at once on curl_multi_wakeup, on socket activity, or when libcurl's next timer is due.
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func start(_ transfer: Transfer) {
        guard let easy = curl_easy_init() else {
            transfer.fail(FetchError(.proto, "cannot create a libcurl transfer"))
            return
        }
        let config = transfer.configuration
        var ok = true
        func set(_ code: CURLcode) { ok = ok && code == CURLE_OK }
        set(sts_curl_setopt_string(easy, CURLOPT_URL, transfer.url))
        // HTTPS only, for the URL and for anything it could redirect to (redirects are not followed).
        set(sts_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "https"))
        set(sts_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "https"))
        set(sts_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        set(sts_curl_setopt_long(easy, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2)))
        set(sts_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        set(sts_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        // libcurl's check accepts the subject's CN when there is no DNS subjectAltName; RFC 8461 §3.3
        // (RFC 6125 DNS-ID) does not: OpenSSL checks the name as well, against subjectAltName only.
        set(sts_curl_setopt_dns_id_only(easy, transfer.hostName))
        // A CA file or directory of our own replaces the system store entirely (both are set, so the
        // built-in default of the other does not add to it).
        if config.caFile != nil || config.caPath != nil {
            set(sts_curl_setopt_string(easy, CURLOPT_CAINFO, config.caFile))
            set(sts_curl_setopt_string(easy, CURLOPT_CAPATH, config.caPath))
        } else if dropDefaultCAPath {
            set(sts_curl_setopt_string(easy, CURLOPT_CAPATH, nil))
        }
        // Re-read the CA store hourly, so that a long-running process sees updates to it.
        set(sts_curl_setopt_long(easy, CURLOPT_CA_CACHE_TIMEOUT, 3600))
        set(sts_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(config.connectTimeout * 1000)))
        set(sts_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(config.timeout * 1000)))
        set(sts_curl_setopt_string(easy, CURLOPT_USERAGENT, config.userAgent))
        set(sts_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headers))
        set(sts_curl_setopt_share(easy, share))
        set(sts_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        // Each policy host is fetched about once a day: keeping its connection only makes libcurl's
        // connection cache, scanned after every transfer, grow with every host ever fetched.
        set(sts_curl_setopt_long(easy, CURLOPT_FORBID_REUSE, 1))
        // A Content-Length over the limit is refused before any body is read; a body without one is
        // cut in the write callback.
        set(sts_curl_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(FetchConfiguration.maxBodyBytes)))
        let token = Unmanaged.passUnretained(transfer).toOpaque()
        set(sts_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, token))
        set(sts_curl_setopt_write_function(easy, curlWrite))
        set(sts_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, token))
        set(sts_curl_setopt_header_function(easy, curlHeader))
        set(sts_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer))
        // libcurl walks its whole DNS cache to prune it on every connection, and every policy host
        // fetched in the last DNS-cache timeout is in it: at the default 60 s, a stage fetching a few
        // hundred hosts a second spent a third of its time in that walk. The entries are only needed
        // while the connection is made (sts-dns did the lookup).
        set(sts_curl_setopt_long(easy, CURLOPT_DNS_CACHE_TIMEOUT, 5))
        if !transfer.addresses.isEmpty {
            // "+": the entry expires from libcurl's DNS cache like a looked-up one, rather than staying
            // for the life of the process.
            let list = transfer.addresses.map { IPAddress.isIPv6($0) ? "[\($0)]" : $0 }.joined(separator: ",")
            transfer.resolveList = curl_slist_append(nil, "+\(transfer.host):443:\(list)")
        } else {
            // "-": drops what an earlier record's addresses left in the shared DNS cache for this host
            // (for CURLOPT_DNS_CACHE_TIMEOUT), so that this one is looked up as the man page says.
            transfer.resolveList = curl_slist_append(nil, "-\(transfer.host):443")
        }
        if transfer.resolveList == nil { ok = false }
        set(sts_curl_setopt_slist(easy, CURLOPT_RESOLVE, transfer.resolveList))
        guard ok, curl_multi_add_handle(multi, easy) == CURLM_OK else {
            curl_easy_cleanup(easy)
            transfer.fail(FetchError(.proto, "libcurl refused the transfer's settings"))
            return
        }
        // `active` holds the transfer (and so its buffer) until the handle is cleaned up.
        active[easy] = transfer
    }

    private func finish(_ easy: UnsafeMutableRawPointer, code: Int) {
        guard let transfer = active.removeValue(forKey: easy) else { return }
        defer {
            // The handle points into the transfer (error buffer, callback data) until it is gone.
            withExtendedLifetime(transfer) {
                curl_multi_remove_handle(multi, easy)
                curl_easy_cleanup(easy)
            }
        }
        var report = TransferReport(host: transfer.host, code: code)
        report.status = long(easy, CURLINFO_RESPONSE_CODE)
        report.proxyStatus = long(easy, CURLINFO_HTTP_CONNECTCODE)
        report.verifyResult = long(easy, CURLINFO_SSL_VERIFYRESULT)
        report.contentType = string(easy, CURLINFO_CONTENT_TYPE)
        report.location = string(easy, CURLINFO_REDIRECT_URL)
        report.contentLength = transfer.contentLength
        report.message = String(cString: transfer.errorBuffer)
        report.body = transfer.body
        report.received = transfer.received
        report.overLimit = transfer.overLimit
        var timings: [String: Double] = [:]
        for (key, info) in [("dns", CURLINFO_NAMELOOKUP_TIME_T), ("connect", CURLINFO_CONNECT_TIME_T), ("tls", CURLINFO_APPCONNECT_TIME_T),
                            ("total", CURLINFO_TOTAL_TIME_T)]
        {
            var micros: curl_off_t = 0
            if sts_curl_getinfo_offset(easy, info, &micros) == CURLE_OK, micros > 0 { timings[key] = Double(micros) / 1000 }
        }
        report.connected = timings["tls"] != nil

        var outcome = FetchOutcome(url: transfer.url, httpStatus: report.status > 0 ? report.status : nil, contentType: report.contentType,
                                   bytes: transfer.body.count, ip: string(easy, CURLINFO_PRIMARY_IP), timings: timings)
        if let error = FetchClassifier.error(for: report, configuration: transfer.configuration) {
            outcome.error = error
        } else {
            outcome.body = String(decoding: transfer.body, as: UTF8.self)
        }
        transfer.continuation.resume(returning: outcome)
    }

    private func long(_ easy: UnsafeMutableRawPointer, _ info: CURLINFO) -> Int {
        var value = 0
        return sts_curl_getinfo_long(easy, info, &value) == CURLE_OK ? value : 0
    }

    private func string(_ easy: UnsafeMutableRawPointer, _ info: CURLINFO) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard sts_curl_getinfo_string(easy, info, &value) == CURLE_OK, let value else { return nil }
        return String(cString: value)
    }
}

/// libcurl's header callback, one header line at a time: notes the Content-Length of the latest
/// response (a new status line starts a new one, e.g. after a proxy's CONNECT answer).
private func curlHeader(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ token: UnsafeMutableRawPointer?) -> Int {
    let length = size * count
    guard let data, let token else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(token).takeUnretainedValue()
    let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    transfer.contentLength = ContentLength.next(transfer.contentLength, headerLine: line)
    return length
}

/// libcurl's write callback: keeps at most the limit; the first byte beyond it aborts the transfer
/// (returning less than offered makes libcurl stop with CURLE_WRITE_ERROR).
private func curlWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ token: UnsafeMutableRawPointer?) -> Int {
    guard let data, let token else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(token).takeUnretainedValue()
    let length = size * count
    transfer.received += length
    guard transfer.body.count + length <= FetchConfiguration.maxBodyBytes else {
        transfer.overLimit = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) { transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
    return length
}
