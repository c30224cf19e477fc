#include <sys/prctl.h>
#include <signal.h>
/* Workers die with their supervisor instead of lingering on the socket. */
static inline int depot_die_with_parent(void) { return prctl(PR_SET_PDEATHSIG, SIGTERM); }
