#define _GNU_SOURCE
#include <malloc.h>
#include <sched.h>
#include <unistd.h>
#include "clibc.h"

int sts_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

void sts_malloc_trim(void) {
    malloc_trim(0);
}

int sts_usable_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count > 0) return count;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}
