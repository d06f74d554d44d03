/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * What authentication costs a check, timed: verifying an API key that no worker has
 * cached (BLAKE3 MAC, constant-time compare) and deriving its tenant's storage keys, the
 * work auth_request_or_respond() does on a cache miss. A hit costs less (one
 * constant-time compare of the key); bench/costs.sh counts that case with callgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/apikey.h"

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 1000000;
    derive_keys_t keys;
    char key[APIKEY_MAX_LEN + 1];
    uint8_t tenant_key[DERIVE_KEY_LEN], tag[DERIVE_TAG_LEN];
    apikey_t parsed;
    unsigned ok = 0;

    derive_keys_init(&keys, "bench secret bench secret bench secret", 38);
    if (apikey_issue(&keys, "bench-tenant", key, sizeof(key)) != 0)
        return 1;
    size_t len = strlen(key);

    double start = now_ns();
    for (long i = 0; i < rounds; i++) {
        ok += apikey_verify(&keys, key, len, &parsed) == APIKEY_VALID;
        derive_tenant_key(&keys, parsed.tenant, parsed.tenant_len, tenant_key, tag);
        key[len - 1] ^= (char)(tenant_key[0] & 0); /* keeps the loop from being hoisted */
    }
    double per = (now_ns() - start) / (double)rounds;
    if (ok != (unsigned)rounds)
        return 1;
    printf("auth, uncached key: %.0f ns per check (%ld rounds)\n", per, rounds);
    return 0;
}
