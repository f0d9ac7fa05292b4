#if canImport(Glibc)
import Glibc
#endif
import STSCore

/// A shell-style pipeline of stage executables (`sts-dns | sts-fetch | sts-parse`): records written to
/// `inputFD` go into the first stage, and come out of the last one on `outputFD`. The stages'
/// diagnostics go to our standard error.
public final class StagePipeline: Sendable {
    public struct Command: Sendable {
        public var name: String
        public var arguments: [String]
        public init(_ name: String, _ arguments: [String] = []) {
            self.name = name
            self.arguments = arguments
        }
    }

    public let children: [ChildProcess]
    /// Where records go in; close it (`finishInput`) to let the stages finish and exit.
    public let inputFD: Int32
    /// Where results come out; end of file once every stage has exited.
    public let outputFD: Int32

    public init(_ commands: [Command]) throws(STSError) {
        precondition(!commands.isEmpty)
        var paths: [String] = []
        for command in commands {
            guard let path = ChildProcess.locate(command.name) else {
                throw STSError(.internalError, "cannot find \(command.name) next to this program or on PATH")
            }
            paths.append(path)
        }
        let head = try ChildProcess.pipe()
        var readEnd = head.read
        var children: [ChildProcess] = []
        for (command, path) in zip(commands, paths) {
            let link = try ChildProcess.pipe()
            children.append(try ChildProcess.spawn(path, arguments: command.arguments, stdinFD: readEnd, stdoutFD: link.write))
            // The child has its copies now; ours would keep the next stage from ever seeing EOF.
            close(readEnd)
            close(link.write)
            readEnd = link.read
        }
        self.children = children
        self.inputFD = head.write
        self.outputFD = readEnd
    }

    public func finishInput() {
        close(inputFD)
    }

    /// Waits for every stage; true if all exited 0.
    public func wait() -> Bool {
        exitStatuses().allSatisfy { $0 == 0 }
    }

    /// Waits for every stage; their exit statuses in pipeline order (128 + signal for one a signal
    /// ended), so that the caller can tell a stage that could not start from one that died.
    public func exitStatuses() -> [Int32] {
        children.map { $0.wait() }
    }

    /// Ends every stage now, for a caller that stops before they are done (its output is gone); a
    /// stage left to finish its lookups would hold our standard error open long after we exit.
    /// Only before `wait`: a reaped pid may belong to someone else.
    public func terminate() {
        for child in children { kill(child.pid, SIGTERM) }
    }
}
