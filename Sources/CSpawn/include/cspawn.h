#ifndef STS_CSPAWN_H
#define STS_CSPAWN_H
#include <spawn.h>

/* posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc module does not export. */
int sts_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);

#endif
