import STSCore

/// Where a redis server is and how to talk to it: the `url` of the old daemon's redis options
/// (`redis://[[user]:password@]host[:port][/db][?socket_timeout=S&socket_connect_timeout=S]`, or
/// `unix://[[user]:password@]/path/to/redis.sock[?db=N]`), with its separate keys applied on top.
public struct RedisEndpoint: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    public var username: String?
    public var password: String?
    public var database: Int = 0
    /// Seconds a command may take.
    public var timeout: Double = 5
    /// Seconds connecting may take.
    public var connectTimeout: Double = 5

    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0, timeout: Double = 5, connectTimeout: Double = 5) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }

    /// Parses a redis URL; the error says what is wrong (the password is never repeated).
    public static func parse(url: String) throws(STSError) -> RedisEndpoint {
        func fail(_ why: String) -> STSError { STSError(.invalidInput, "redis url: \(why)") }
        let schemeEnd = url.firstRange(of: "://")
        guard let schemeEnd else { throw fail("expected redis://HOST[:PORT][/DB] or unix:///PATH") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = String(url[schemeEnd.upperBound...])
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = String(rest[..<mark])
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = String(rest[..<at])
            rest = String(rest[rest.index(after: at)...])
            if let colon = credentials.firstIndex(of: ":") {
                username = percentDecoded(String(credentials[..<colon]))
                password = percentDecoded(String(credentials[credentials.index(after: colon)...]))
            } else {
                password = percentDecoded(credentials)
            }
            if username?.isEmpty == true { username = nil }
        }
        var endpoint: RedisEndpoint
        switch scheme {
        case "redis":
            var hostPort = rest
            var databaseText = ""
            if let slash = rest.firstIndex(of: "/") {
                hostPort = String(rest[..<slash])
                databaseText = String(rest[rest.index(after: slash)...])
            }
            var host = hostPort
            var port = 6379
            if hostPort.hasPrefix("[") {
                guard let close = hostPort.firstIndex(of: "]") else { throw fail("unclosed [ in the host") }
                host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
                let after = hostPort[hostPort.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let value = Int(after.dropFirst()), (1...65535).contains(value) else { throw fail("the port must be 1 to 65535") }
                    port = value
                }
            } else if let colon = hostPort.lastIndex(of: ":") {
                host = String(hostPort[..<colon])
                guard let value = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(value) else { throw fail("the port must be 1 to 65535") }
                port = value
            }
            if host.isEmpty { host = "127.0.0.1" }
            endpoint = RedisEndpoint(address: .tcp(host: host, port: port))
            if !databaseText.isEmpty {
                guard let database = Int(databaseText), database >= 0 else { throw fail("the database must be a number") }
                endpoint.database = database
            }
        case "unix":
            guard rest.hasPrefix("/") else { throw fail("a unix socket path must be absolute") }
            endpoint = RedisEndpoint(address: .unix(path: rest))
        case "rediss":
            throw fail("TLS (rediss://) is not supported; reach redis over a unix socket or a local address")
        default:
            throw fail("unknown scheme \(UntrustedText.quoted(String(scheme)))")
        }
        endpoint.username = username
        endpoint.password = password
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0]
            let value = parts.count > 1 ? percentDecoded(parts[1]) : ""
            try endpoint.apply(key: key, value: value)
        }
        return endpoint
    }

    /// Applies one of the keys the old daemon passed to redis-py next to `url`.
    public mutating func apply(key: String, value: String) throws(STSError) {
        func seconds() throws(STSError) -> Double {
            guard let number = Double(value), number > 0, number <= 600 else {
                throw STSError(.invalidInput, "redis \(key): must be a number of seconds (more than 0, at most 600)")
            }
            return number
        }
        switch key {
        case "db":
            guard let database = Int(value), database >= 0 else { throw STSError(.invalidInput, "redis db: must be a number") }
            self.database = database
        case "password": password = value
        case "username": username = value.isEmpty ? nil : value
        case "socket_timeout": timeout = try seconds()
        case "socket_connect_timeout": connectTimeout = try seconds()
        default:
            // Pool sizes, encodings, retries... mean nothing for one connection; ignoring them keeps old
            // configs working.
            break
        }
    }

    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension RedisEndpoint: CustomStringConvertible {
    /// For logs: where, never the password.
    public var description: String {
        switch address {
        case .tcp(let host, let port): "redis://\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        case .unix(let path): "unix://\(path)?db=\(database)"
        }
    }
}
