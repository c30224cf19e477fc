#include <sys/prctl.h>
#include <signal.h>
/* Workers die with their supervisor instead of lingering on the socket. */
static inline int depot_die_with_parent(void) { return prctl(PR_SET_PDEATHSIG, SIGTERM); }

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
/* Counters shared by the supervisor and every worker it forks: an anonymous
 * shared mapping made before fork, updated with atomic adds. */
static inline int64_t *depot_shared_counters(long count) {
    void *p = mmap(NULL, (size_t)count * sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? (int64_t *)0 : (int64_t *)p;
}
static inline void depot_counter_add(int64_t *base, long index, int64_t value) {
    __atomic_fetch_add(base + index, value, __ATOMIC_RELAXED);
}
static inline int64_t depot_counter_load(const int64_t *base, long index) {
    return __atomic_load_n(base + index, __ATOMIC_RELAXED);
}
