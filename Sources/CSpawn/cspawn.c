#define _GNU_SOURCE
#include "cspawn.h"

int sts_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
