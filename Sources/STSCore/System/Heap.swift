import CLibc

/// The process's malloc heap.
public enum Heap {
    /// Gives the pages of freed memory back to the system. glibc keeps what a burst of work freed (in
    /// every thread's arena, not only at the top of the heap) until this is asked: after the burst, an
    /// idle process would otherwise go on holding its peak.
    public static func returnFreePages() {
        sts_malloc_trim()
    }
}
