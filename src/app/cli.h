/* cli.h -- the operator's commands besides serving (routstr wallet ...). Each returns the
 * process exit status. */
#ifndef ROUTSTR_APP_CLI_H
#define ROUTSTR_APP_CLI_H

#include "app/config.h"

int cli_wallet(const struct config *cfg, int argc, char **argv);
/* routstr audit: 0 when every ledger invariant holds, 1 on a violation, 2 when it cannot run. */
int cli_audit(const struct config *cfg);

#endif
