/* dist_env.c - the launcher's process count from the environment (dist.h),
 * shared by both implementations of dist.h. */
#include "driver/dist.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* The value of NAME in env, or NULL. */
static const char *env_get(char *const *env, const char *name)
{
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=') return *env + n + 1;
    return NULL;
}

int dist_launched_size(char *const *env)
{
    /* Open MPI's mpirun, PMI (MPICH's hydra, srun --mpi=pmi2), and a
     * step of srun (not SLURM_NTASKS: a batch script has it too, and
     * runs one process) */
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    if (!env) env = environ;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = env_get(env, names[i]);
        long n = v ? strtol(v, NULL, 10) : 0;
        if (n > 1) return n > 1 << 20 ? 1 << 20 : (int)n;
    }
    return 1;
}
