/* fault.c -- see fault.h. */
#include "base/fault.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fault_point(const char *name)
{
    static const char *armed;
    static bool loaded;
    if (!loaded) {
        armed = getenv("ROUTSTR_TEST_FAULT");
        loaded = true;
    }
    if (armed && strcmp(armed, name) == 0) {
        fprintf(stderr, "routstr: fault point %s: SIGKILL\n", name);
        raise(SIGKILL);
    }
}
