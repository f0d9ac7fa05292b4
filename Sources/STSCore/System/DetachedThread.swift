#if canImport(Glibc)
import Glibc
#endif

/// A thread of its own for work that blocks (a C library's event loop, a read, a wait), started and
/// forgotten: it runs `body` once and ends with it.
public enum DetachedThread {
    /// Starts `body` on a new detached thread named `name` for `ps -L` and `top -H` (Linux keeps its
    /// first 15 bytes). A process that cannot start a thread cannot do its work: it stops.
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let work = Unmanaged.passRetained(Work(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let code = pthread_create(&thread, &attributes, runWork, work)
        pthread_attr_destroy(&attributes)
        if code != 0 {
            Unmanaged<Work>.fromOpaque(work).release()
            fatalError("cannot start thread \(name): \(String(cString: strerror(code)))")
        }
    }

    /// What pthread_setname_np does, which the Glibc module does not export.
    fileprivate static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = FileDescriptorWriter.writeAll(fd, Array(name.utf8))
        close(fd)
    }

    fileprivate final class Work {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}

/// The new thread's entry point: names it, runs the work, releases it.
private func runWork(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let work = Unmanaged<DetachedThread.Work>.fromOpaque(raw!).takeRetainedValue()
    DetachedThread.nameCurrentThread(work.name)
    work.body()
    return nil
}
