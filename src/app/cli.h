/* cli.h -- the operator's commands besides serving (routstr wallet ...). Each returns the
 * process exit status. */
#ifndef ROUTSTR_APP_CLI_H
#define ROUTSTR_APP_CLI_H

#include "app/config.h"

int cli_wallet(const struct config *cfg, int argc, char **argv);

#endif
