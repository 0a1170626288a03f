/* dist_msgs.c - holding stderr back (dist_msgs.h). */
#include "driver/dist_msgs.h"

#include <stdio.h>
#include <unistd.h>

static int saved_fd = -1; /* the real stderr while held */
static FILE *held;

int dist_msgs_hold(void)
{
    if (saved_fd >= 0) return 0;
    fflush(stderr);
    held = tmpfile();
    if (!held) return -1;
    saved_fd = dup(2);
    if (saved_fd < 0 || dup2(fileno(held), 2) < 0) {
        if (saved_fd >= 0) close(saved_fd);
        saved_fd = -1;
        fclose(held);
        held = NULL;
        return -1;
    }
    return 0;
}

void dist_msgs_release(int show)
{
    if (saved_fd < 0) return;
    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    saved_fd = -1;
    if (show) {
        char buf[4096];
        size_t n;
        rewind(held);
        while ((n = fread(buf, 1, sizeof buf, held)) > 0) fwrite(buf, 1, n, stderr);
        fflush(stderr);
    }
    fclose(held);
    held = NULL;
}
