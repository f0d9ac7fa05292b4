#ifndef STS_CLIBC_H
#define STS_CLIBC_H
#include <spawn.h>

/* glibc functions that Swift's Glibc module does not export. */

/* posix_spawn_file_actions_addclosefrom_np. */
int sts_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);

/* malloc_trim(0): freed heap pages back to the system. */
void sts_malloc_trim(void);

/* The cores this process may run on (sched_getaffinity, so a CPU set or container limit counts);
   sysconf's online count when that fails. */
int sts_usable_cores(void);

#endif
