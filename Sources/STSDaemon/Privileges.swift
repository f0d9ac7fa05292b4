import STSCore
#if canImport(Glibc)
import Glibc
#endif

/// Dropping root after the listeners are bound (`-u USER -g GROUP`): supplementary groups, then the
/// group, then the user, real and effective alike; then a check that root cannot be regained.
public enum Privileges {
    public static func drop(user: String?, group: String?) throws(STSError) {
        guard user != nil || group != nil else { return }
        var uid: uid_t?
        var gid: gid_t?
        if let user {
            guard let entry = getpwnam(user) else { throw STSError(.invalidInput, "unknown user \(user)") }
            uid = entry.pointee.pw_uid
            gid = entry.pointee.pw_gid
        }
        if let group {
            guard let entry = getgrnam(group) else { throw STSError(.invalidInput, "unknown group \(group)") }
            gid = entry.pointee.gr_gid
        }
        if let gid {
            var groups = [gid]
            guard setgroups(1, &groups) == 0, setgid(gid) == 0 else {
                throw STSError(.internalError, "cannot change group to \(gid): \(String(cString: strerror(errno)))")
            }
        }
        if let uid {
            // As root, setuid and setgid set the real, effective and saved ids together.
            guard setuid(uid) == 0 else {
                throw STSError(.internalError, "cannot change user to \(uid): \(String(cString: strerror(errno)))")
            }
            if uid != 0 && setuid(0) == 0 {
                throw STSError(.internalError, "privileges were not dropped: root could be regained")
            }
        }
    }
}
