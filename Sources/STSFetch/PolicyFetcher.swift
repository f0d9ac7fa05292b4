import CCurl
import Foundation
import STSCore
import Synchronization

/// Fetches policies over HTTPS with libcurl's multi interface: any number of transfers in flight in
/// one thread that owns the multi handle, each with its own timeouts, so a slow host holds back no one.
/// Transfers are handed to that thread through a queue and `curl_multi_wakeup`.
public final class PolicyFetcher: Sendable {
    public let configuration: FetchConfiguration
    private let loop: CurlLoop

    public init(_ configuration: FetchConfiguration) throws(STSError) {
        self.configuration = configuration
        loop = try CurlLoop()
        let loop = self.loop
        let thread = Thread { loop.run() }
        thread.name = "sts-fetch-curl"
        thread.start()
    }

    public func fetch(domain: String) async -> FetchOutcome {
        let url = FetchConfiguration.policyURL(for: domain)
        let configuration = self.configuration
        return await withCheckedContinuation { continuation in
            loop.submit(Transfer(url: url, configuration: configuration, continuation: continuation))
        }
    }
}

/// One transfer: its settings, the body as it arrives, and who waits for it.
final class Transfer: @unchecked Sendable {
    let url: String
    let configuration: FetchConfiguration
    let continuation: CheckedContinuation<FetchOutcome, Never>
    // Touched on the loop thread only.
    var body: [UInt8] = []
    var tooLarge = false
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    var handle: UnsafeMutableRawPointer?

    init(url: String, configuration: FetchConfiguration, continuation: CheckedContinuation<FetchOutcome, Never>) {
        self.url = url
        self.configuration = configuration
        self.continuation = continuation
    }
}

final class CurlLoop: @unchecked Sendable {
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    private let multi: UnsafeMutableRawPointer
    private let incoming = Mutex<[Transfer]>([])
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    init() throws(STSError) {
        _ = Self.globalInit
        guard let multi = curl_multi_init() else { throw STSError(.internalError, "cannot initialise libcurl") }
        self.multi = multi
    }

    func submit(_ transfer: Transfer) {
        incoming.withLock { $0.append(transfer) }
        curl_multi_wakeup(multi)
    }

    func run() {
        var running: Int32 = 0
        while true {
            for transfer in incoming.withLock({ pending -> [Transfer] in defer { pending.removeAll() }; return pending }) {
                start(transfer)
            }
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let message = curl_multi_info_read(multi, &left) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let code = Int(message.pointee.data.result.rawValue)
                finish(easy, code: code)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func start(_ transfer: Transfer) {
        guard let easy = curl_easy_init() else {
            transfer.continuation.resume(returning: failure(transfer, FetchError(.proto, "cannot create a libcurl transfer")))
            return
        }
        let config = transfer.configuration
        sts_curl_setopt_string(easy, CURLOPT_URL, transfer.url)
        sts_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "https")
        sts_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "https")
        sts_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        sts_curl_setopt_long(easy, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        sts_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1)
        sts_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = config.caFile { sts_curl_setopt_string(easy, CURLOPT_CAINFO, caFile) }
        if let caPath = config.caPath { sts_curl_setopt_string(easy, CURLOPT_CAPATH, caPath) }
        sts_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(config.connectTimeout * 1000))
        sts_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(config.timeout * 1000))
        sts_curl_setopt_string(easy, CURLOPT_USERAGENT, config.userAgent)
        sts_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        // A Content-Length over the limit is refused before the body; chunked bodies are cut in the
        // write callback.
        sts_curl_setopt_offset(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(FetchConfiguration.maxBodyBytes))
        let token = Unmanaged.passRetained(transfer).toOpaque()
        sts_curl_setopt_pointer(easy, CURLOPT_PRIVATE, token)
        sts_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, token)
        sts_curl_setopt_write_function(easy, curlWrite)
        transfer.errorBuffer.withUnsafeMutableBufferPointer { _ = sts_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, $0.baseAddress) }
        transfer.handle = easy
        active[easy] = transfer
        curl_multi_add_handle(multi, easy)
    }

    private func finish(_ easy: UnsafeMutableRawPointer, code: Int) {
        guard let transfer = active.removeValue(forKey: easy) else { return }
        defer {
            curl_multi_remove_handle(multi, easy)
            curl_easy_cleanup(easy)
            Unmanaged.passUnretained(transfer).release()
        }
        var status = 0
        sts_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        let contentType = string(easy, CURLINFO_CONTENT_TYPE)
        let location = string(easy, CURLINFO_REDIRECT_URL)
        var verifyResult = 0
        sts_curl_getinfo_long(easy, CURLINFO_SSL_VERIFYRESULT, &verifyResult)
        var timings: [String: Double] = [:]
        for (key, info) in [("dns", CURLINFO_NAMELOOKUP_TIME_T), ("connect", CURLINFO_CONNECT_TIME_T), ("tls", CURLINFO_APPCONNECT_TIME_T), ("total", CURLINFO_TOTAL_TIME_T)] {
            var micros: curl_off_t = 0
            if sts_curl_getinfo_offset(easy, info, &micros) == CURLE_OK, micros > 0 { timings[key] = Double(micros) / 1000 }
        }
        let message = String(decoding: transfer.errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var outcome = FetchOutcome(url: transfer.url, httpStatus: status > 0 ? status : nil, contentType: contentType, body: nil,
                                   bytes: transfer.body.count, ip: string(easy, CURLINFO_PRIMARY_IP), timings: timings, error: nil)
        if let error = FetchClassifier.classify(code: code, verifyResult: verifyResult, message: message, tooLarge: transfer.tooLarge, timeout: transfer.configuration.timeout)
            ?? FetchClassifier.check(status: status, location: location, contentType: contentType, body: transfer.body)
        {
            outcome.error = error
        } else {
            outcome.body = String(decoding: transfer.body, as: UTF8.self)
        }
        transfer.continuation.resume(returning: outcome)
    }

    private func failure(_ transfer: Transfer, _ error: FetchError) -> FetchOutcome {
        FetchOutcome(url: transfer.url, httpStatus: nil, contentType: nil, body: nil, bytes: 0, ip: nil, timings: [:], error: error)
    }

    private func string(_ easy: UnsafeMutableRawPointer, _ info: CURLINFO) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard sts_curl_getinfo_string(easy, info, &value) == CURLE_OK, let value else { return nil }
        return String(cString: value)
    }
}

/// libcurl's write callback: keeps at most the limit, and aborts the transfer beyond it.
private func curlWrite(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ token: UnsafeMutableRawPointer?) -> Int {
    guard let data, let token else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(token).takeUnretainedValue()
    let length = size * count
    guard transfer.body.count + length <= FetchConfiguration.maxBodyBytes else {
        transfer.tooLarge = true
        return 0
    }
    data.withMemoryRebound(to: UInt8.self, capacity: length) { transfer.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length)) }
    return length
}
