import CUnbound
import HeapModule
import STSCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An asynchronous DNS resolver over libunbound: any number of questions in flight, each with its own
/// deadline, answered through one event-loop thread that owns the libunbound context.
///
/// libunbound does the DNS work (retries, TCP fallback, CNAME chasing, DNSSEC validation) in a worker
/// thread of its own; our thread hands it questions, waits on its result descriptor, and resumes the
/// waiting tasks. Questions are passed to that thread through a queue and a pipe, so no libunbound
/// call ever happens on two threads at once.
public final class UnboundResolver: Sendable {
    public let configuration: ResolverConfiguration
    private let loop: EventLoop

    public init(_ configuration: ResolverConfiguration) throws(STSError) {
        self.configuration = configuration
        self.loop = try EventLoop(configuration)
        let loop = self.loop
        DetachedThread.start(name: "sts-dns-unbound") { loop.run() }
    }

    /// Asks one question. Never throws: a failure is an `STSError` with a DNS kind.
    public func resolve(_ name: String, type: DNSRecordType, timeout: Duration? = nil) async -> Result<DNSAnswer, STSError> {
        let deadline = Monotonic.now() + Monotonic.nanoseconds(timeout ?? configuration.timeout)
        return await withCheckedContinuation { continuation in
            loop.submit(Question(name: name, type: type, deadline: deadline, continuation: continuation))
        }
    }
}

/// One question on its way through the loop.
final class Question: @unchecked Sendable {
    let name: String
    let type: DNSRecordType
    let deadline: UInt64
    let continuation: CheckedContinuation<Result<DNSAnswer, STSError>, Never>
    // Set and read on the loop thread only.
    var asyncID: Int32 = 0
    var loop: EventLoop?

    init(name: String, type: DNSRecordType, deadline: UInt64, continuation: CheckedContinuation<Result<DNSAnswer, STSError>, Never>) {
        self.name = name
        self.type = type
        self.deadline = deadline
        self.continuation = continuation
    }
}

/// Owns the `ub_ctx`. Everything but `submit` runs on the loop thread.
final class EventLoop: @unchecked Sendable {
    private let context: OpaquePointer
    /// A pipe whose read end wakes the loop when questions are queued.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let incoming = Mutex<[Question]>([])
    /// Whether a byte is on its way through the pipe: one wakes the loop for every question queued
    /// until the loop drains the pipe, so a burst of questions costs one write, not one each.
    private let wakePending = Atomic<Bool>(false)
    /// The questions handed to libunbound, earliest deadline first, for the loop's timer. A question is
    /// in flight while its `loop` is set; answered ones leave when they reach the top, or all at once
    /// when they outnumber those in flight (`dropAnswered`).
    private var deadlines = Heap<Pending>()
    /// How many questions are in flight (handed to libunbound, neither answered nor expired).
    private var inFlight = 0

    /// A question in the deadline heap. The deadline is copied next to the reference so that ordering
    /// the heap reads no question object.
    struct Pending: Comparable {
        let deadline: UInt64
        let question: Question

        static func < (a: Pending, b: Pending) -> Bool { a.deadline < b.deadline }
        static func == (a: Pending, b: Pending) -> Bool { a.deadline == b.deadline && a.question === b.question }
    }

    init(_ configuration: ResolverConfiguration) throws(STSError) {
        guard let context = ub_ctx_create() else { throw STSError(.dnsError, "cannot create the libunbound context") }
        self.context = context
        func check(_ code: Int32, _ what: String) throws(STSError) {
            if code != 0 {
                ub_ctx_delete(context)
                throw STSError(.dnsError, "\(what): \(String(cString: ub_strerror(code)))")
            }
        }
        // A worker thread, not a forked process (the default), inside a threaded Swift program.
        try check(ub_ctx_async(context, 1), "cannot make libunbound asynchronous")
        // We are a stub toward the configured resolvers, which may well be on this host.
        try check(ub_ctx_set_option(context, "do-not-query-localhost:", "no"), "cannot set do-not-query-localhost")
        // libunbound answers NXDOMAIN for the RFC 6761 name test. by itself; as a stub we leave that to
        // the resolvers we are given, which may well serve it (private test and staging setups do).
        // (local-zone cannot be set through ub_ctx_set_option, only from a config file.)
        try check(Self.applyConfig("server:\n    local-zone: \"test.\" nodefault\n", to: context), "cannot configure libunbound")
        if configuration.forwarders.isEmpty {
            try check(ub_ctx_resolvconf(context, configuration.resolvConf), "cannot read \(configuration.resolvConf)")
        } else {
            for forwarder in configuration.forwarders {
                try check(ub_ctx_set_fwd(context, forwarder), "cannot use resolver \(forwarder)")
            }
        }
        if let anchor = configuration.trustAnchorFile {
            do {
                try Self.checkTrustAnchor(anchor)
            } catch {
                ub_ctx_delete(context)
                throw error
            }
            try check(ub_ctx_add_ta_file(context, anchor), "cannot load trust anchor \(anchor)")
        }
        // libunbound only notes the anchor's file name here and reads it, with the rest of its setup,
        // at the first question, failing every question then. Ask one now that its built-in
        // `localhost.` zone answers without the network, so that a bad anchor stops us at start.
        var probe: UnsafeMutablePointer<ub_result>?
        let setup = ub_resolve(context, "localhost.", DNSRecordType.a.rawValue, 1, &probe)
        if let probe { ub_resolve_free(probe) }
        if let anchor = configuration.trustAnchorFile {
            try check(setup, "cannot use trust anchor \(anchor) (libunbound says why above)")
        } else {
            try check(setup, "cannot set up libunbound")
        }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            ub_ctx_delete(context)
            throw STSError(.dnsError, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        wakeRead = ends[0]
        wakeWrite = ends[1]
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
    }

    /// What libunbound gets wrong about an anchor file: one it cannot read to the end (a directory) makes
    /// it spin for ever, and one without a record (empty, only comments) is taken as no anchor at all,
    /// so that nothing would ever be validated and DANE never proven. Whether the records are DS or
    /// DNSKEY records it checks itself, at start.
    private static func checkTrustAnchor(_ path: String) throws(STSError) {
        let bytes: [UInt8]
        do {
            bytes = try FileContents.read(path, limit: 1 << 20)
        } catch {
            throw STSError(.dnsError, "cannot use trust anchor: \(error.message)")
        }
        let hasRecord = bytes.split(separator: 0x0A).contains { line in
            guard let first = line.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return false }
            return first != UInt8(ascii: ";") && first != UInt8(ascii: "$")
        }
        guard hasRecord else {
            throw STSError(.dnsError, "cannot use trust anchor \(path): it holds no DS or DNSKEY record")
        }
    }

    /// Applies unbound.conf text through a private temporary file (the only way for some options).
    private static func applyConfig(_ text: String, to context: OpaquePointer) -> Int32 {
        let systemError: Int32 = -2  // UB_SYSERR, which Swift does not import
        var template = Array("/tmp/sts-unbound-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { return systemError }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { unlink(path) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { return systemError }
        return ub_ctx_config(context, path)
    }

    func submit(_ question: Question) {
        incoming.withLock { $0.append(question) }
        guard !wakePending.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // A full pipe already means "wake up"; the byte is only a signal.
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    func run() {
        let unboundFD = ub_fd(context)
        var fds = [pollfd(fd: unboundFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            startIncoming()
            dropAnswered()
            let now = Monotonic.now()
            var timeoutMs: Int32 = -1
            if let nearest = deadlines.min?.deadline {
                timeoutMs = nearest <= now ? 0 : Int32(min((nearest - now) / 1_000_000 + 1, 60_000))
            }
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, timeoutMs)
            if ready < 0 && errno != EINTR { continue }
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 256)
                while read(wakeRead, &drain, drain.count) > 0 {}
                // Cleared after the drain, so a byte written from now on stays for the next poll; a
                // question queued before this is taken by the next startIncoming.
                wakePending.store(false, ordering: .sequentiallyConsistent)
            }
            if fds[0].revents != 0 {
                ub_process(context)
            }
            expireOverdue()
        }
    }

    private func startIncoming() {
        let questions = incoming.withLock { pending -> [Question] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        for question in questions {
            question.loop = self
            let token = Unmanaged.passRetained(question).toOpaque()
            var asyncID: Int32 = 0
            let code = ub_resolve_async(context, question.name, question.type.rawValue, 1, token, unboundCallback, &asyncID)
            if code != 0 {
                Unmanaged<Question>.fromOpaque(token).release()
                question.loop = nil
                question.continuation.resume(returning: .failure(STSError(.dnsError, "cannot ask for \(question.name): \(String(cString: ub_strerror(code)))")))
                continue
            }
            question.asyncID = asyncID
            deadlines.insert(Pending(deadline: question.deadline, question: question))
            inFlight += 1
        }
    }

    /// Takes answered questions off the top of the heap, so that the next deadline is one still to
    /// come; rebuilds the heap without them when they are most of it (they stay otherwise until their
    /// deadline, holding memory, at thousands of questions a second).
    private func dropAnswered() {
        while let top = deadlines.min, top.question.loop == nil { _ = deadlines.popMin() }
        if deadlines.count > 2 * inFlight + 64 {
            deadlines = Heap(deadlines.unordered.filter { $0.question.loop != nil })
        }
    }

    private func expireOverdue() {
        let now = Monotonic.now()
        while let top = deadlines.min, top.deadline <= now {
            _ = deadlines.popMin()
            let question = top.question
            guard question.loop != nil else { continue }  // answered already
            inFlight -= 1
            // After ub_cancel libunbound never calls back, so the retain taken at submission is ours to drop.
            ub_cancel(context, question.asyncID)
            question.loop = nil
            Unmanaged.passUnretained(question).release()
            question.continuation.resume(returning: .failure(STSError(.dnsTimeout, "no answer for \(question.name) within the time allowed")))
        }
    }

    /// Called by libunbound from inside `ub_process`, on the loop thread.
    fileprivate func complete(_ question: Question, error: Int32, result: UnsafeMutablePointer<ub_result>?) {
        inFlight -= 1
        question.loop = nil
        defer { if let result { ub_resolve_free(result) } }
        guard error == 0, let result else {
            question.continuation.resume(returning: .failure(STSError(.dnsError, "lookup of \(question.name) failed: \(String(cString: ub_strerror(error)))")))
            return
        }
        question.continuation.resume(returning: .success(Self.answer(from: result.pointee)))
    }

    private static func answer(from result: ub_result) -> DNSAnswer {
        var records: [[UInt8]] = []
        if result.havedata != 0, let data = result.data, let lengths = result.len {
            var index = 0
            while let item = data[index] {
                let length = Int(lengths[index])
                records.append(item.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) })
                index += 1
            }
        }
        return DNSAnswer(
            rcode: result.rcode,
            records: records,
            ttl: Int(result.ttl),
            canonicalName: result.canonname.map { String(cString: $0) },
            secure: result.secure != 0,
            bogus: result.bogus != 0,
            whyBogus: result.why_bogus.map { String(cString: $0) }
        )
    }
}

private func unboundCallback(_ token: UnsafeMutableRawPointer?, _ error: Int32, _ result: UnsafeMutablePointer<ub_result>?) {
    guard let token else { return }
    let question = Unmanaged<Question>.fromOpaque(token).takeRetainedValue()
    question.loop?.complete(question, error: error, result: result)
}

/// Monotonic nanoseconds, for deadlines that wall-clock changes cannot move.
enum Monotonic {
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
