import CHiredis
import STSCore
#if canImport(Glibc)
import Glibc
#endif

/// One value of a redis reply.
enum RedisValue: Equatable {
    case string([UInt8])
    case integer(Int64)
    case array([RedisValue])
    case null
    case status(String)
    case error(String)

    var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }
}

/// A blocking hiredis connection with timeouts. Not thread-safe: `RedisCache` uses it from one serial
/// queue. An I/O failure leaves it broken (`isBroken`); the owner makes a new one.
final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>
    let endpoint: RedisEndpoint
    private(set) var isBroken = false

    init(_ endpoint: RedisEndpoint) throws(STSError) {
        self.endpoint = endpoint
        let connectTimeout = Self.timeval(endpoint.connectTimeout)
        let made: UnsafeMutablePointer<redisContext>? = switch endpoint.address {
        case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), connectTimeout)
        case .unix(let path): redisConnectUnixWithTimeout(path, connectTimeout)
        }
        guard let made else { throw STSError(.internalError, "redis \(endpoint): cannot allocate a connection") }
        if made.pointee.err != 0 {
            let message = Self.errorText(made)
            redisFree(made)
            throw STSError(.internalError, "redis \(endpoint): \(message)")
        }
        context = made
        _ = redisSetTimeout(context, Self.timeval(endpoint.timeout))
        if let password = endpoint.password {
            let auth = endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
            if case .error(let message) = try command(auth) {
                throw STSError(.internalError, "redis \(endpoint): authentication failed: \(message)")
            }
        }
        if endpoint.database != 0, case .error(let message) = try command(["SELECT", String(endpoint.database)]) {
            throw STSError(.internalError, "redis \(endpoint): cannot select database \(endpoint.database): \(message)")
        }
    }

    deinit { redisFree(context) }

    /// Sends one command (binary-safe arguments) and returns its reply; a redis error reply is a value,
    /// a broken connection or a timeout throws.
    func command(_ arguments: [String]) throws(STSError) -> RedisValue {
        let buffers = arguments.map { Array($0.utf8) }
        let reply: UnsafeMutableRawPointer? = buffers.withUnsafePointers { pointers, lengths in
            redisCommandArgv(context, Int32(buffers.count), pointers, lengths)
        }
        guard let reply else {
            isBroken = true
            throw STSError(.internalError, "redis \(endpoint): \(Self.errorText(context))")
        }
        defer { freeReplyObject(reply) }
        return Self.value(reply.assumingMemoryBound(to: redisReply.self))
    }

    private static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        func bytes() -> [UInt8] {
            guard let str = r.str else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: Int(r.len)))
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_INTEGER: return .integer(r.integer)
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            for index in 0..<Int(r.elements) {
                if let element = r.element[index] { items.append(value(element)) } else { items.append(.null) }
            }
            return .array(items)
        default: return .error("unknown reply type \(r.type)")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? "connection failed" : text
    }

    private static func timeval(_ seconds: Double) -> Glibc.timeval {
        Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
    }
}

extension Array where Element == [UInt8] {
    /// C argv/argvlen views of byte arrays, valid inside `body`.
    func withUnsafePointers<R>(_ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        let storage = map { bytes -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: Swift.max(1, bytes.count))
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: bytes.count) }
            }
            return pointer
        }
        defer { storage.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = storage.map { UnsafePointer($0) }
        let lengths = map(\.count)
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in body(argv.baseAddress!, argvlen.baseAddress!) }
        }
    }
}
