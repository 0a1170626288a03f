/* huge_create.c - hw_create (tests/deploy/huge_weights.rnn) at batch 1 and
 * one step: prints "<status> <message>"; the model's weights and packs,
 * not its arena, are what exceeds the machine. */
#include <stdio.h>

#include "hw.h"

int main(void)
{
    hw_model *m = NULL;
    hw_sizes max = {.batch = 1, .T_x = 1};
    char err[256] = "";
    int rc = hw_create(&m, &max, err, sizeof err);
    printf("%d %s\n", rc, err);
    hw_free(m);
    return rc == hw_ERR_NOMEM && m == NULL ? 0 : 1;
}
