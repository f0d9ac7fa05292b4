#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro Swift cannot import: make sqlite copy bound values. */
static inline sqlite3_destructor_type sts_sqlite_transient(void) { return SQLITE_TRANSIENT; }
