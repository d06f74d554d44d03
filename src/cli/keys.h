/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* `ratewatch keys ...`: issue, revoke, list revoked and inspect API keys. */
#ifndef RW_CLI_KEYS_H
#define RW_CLI_KEYS_H

#include "config.h"

/* argv starts after "keys". Returns the process exit status. */
int cli_keys_main(const config_t *config, int argc, char **argv);

#endif
