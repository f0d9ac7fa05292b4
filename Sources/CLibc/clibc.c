#define _GNU_SOURCE
#include <malloc.h>
#include "clibc.h"

int sts_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

void sts_malloc_trim(void) {
    malloc_trim(0);
}
