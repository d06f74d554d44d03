/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/* API keys: issue and verify round trips, and every way a key can be wrong. */
#include "crypto/apikey.h"
#include "test.h"

static derive_keys_t keys, other;

static void test_round_trip(void)
{
    char key[APIKEY_MAX_LEN + 1];
    apikey_t parsed;

    test_case = "an issued key verifies and names its tenant";
    EXPECT(apikey_issue(&keys, "acme-2", key, sizeof(key)) == 0);
    EXPECT(apikey_verify(&keys, key, strlen(key), &parsed) == APIKEY_VALID);
    EXPECT_STR(parsed.tenant, "acme-2");
    EXPECT(strlen(parsed.key_id) == APIKEY_ID_HEX);

    test_case = "two issued keys differ";
    char key2[APIKEY_MAX_LEN + 1];
    EXPECT(apikey_issue(&keys, "acme-2", key2, sizeof(key2)) == 0);
    EXPECT(strcmp(key, key2) != 0);

    test_case = "a key from another secret fails its MAC";
    EXPECT(apikey_verify(&other, key, strlen(key), &parsed) == APIKEY_BAD_MAC);

    test_case = "every single-character change is caught";
    for (size_t i = 0; i < strlen(key); i++) {
        char bad[APIKEY_MAX_LEN + 1];
        memcpy(bad, key, sizeof(bad));
        bad[i] = bad[i] == 'a' ? 'b' : 'a';
        EXPECT(apikey_verify(&keys, bad, strlen(bad), &parsed) != APIKEY_VALID);
    }

    test_case = "a tenant swapped into a valid key fails";
    char swapped[APIKEY_MAX_LEN + 1];
    snprintf(swapped, sizeof(swapped), "rw_evil-2%s", key + strlen("rw_acme-2"));
    EXPECT(apikey_verify(&keys, swapped, strlen(swapped), &parsed) == APIKEY_BAD_MAC);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "",
        "rw_",
        "rw_acme",
        "xx_acme_0123456789abcdef01234567_0123456789abcdef0123456789abcdef",
        "rw__0123456789abcdef01234567_0123456789abcdef0123456789abcdef",
        "rw_ACME_0123456789abcdef01234567_0123456789abcdef0123456789abcdef",
        "rw_acme_0123456789ABCDEF01234567_0123456789abcdef0123456789abcdef",
        "rw_acme_0123456789abcdef0123456_0123456789abcdef0123456789abcdef",
        "rw_acme_0123456789abcdef01234567_0123456789abcdef0123456789abcde",
        "rw_acme_0123456789abcdef01234567-0123456789abcdef0123456789abcdef",
        "rw_a_b_0123456789abcdef01234567_0123456789abcdef0123456789abcdef",
        "rw_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_0123456789abcdef01234567_0123456789abcdef0123456789"
        "abcdef",
    };
    apikey_t parsed;

    test_case = "malformed keys";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        EXPECT(apikey_verify(&keys, bad[i], strlen(bad[i]), &parsed) == APIKEY_MALFORMED);
}

static void test_tenants(void)
{
    char key[APIKEY_MAX_LEN + 1];

    test_case = "tenant names";
    EXPECT(apikey_tenant_ok("a", 1));
    EXPECT(apikey_tenant_ok("abcdefghijklmnopqrstuvwxyz012345", 32));
    EXPECT(!apikey_tenant_ok("abcdefghijklmnopqrstuvwxyz0123456", 33));
    EXPECT(!apikey_tenant_ok("", 0));
    EXPECT(!apikey_tenant_ok("Acme", 4));
    EXPECT(!apikey_tenant_ok("a_b", 3));
    EXPECT(!apikey_tenant_ok("a b", 3));
    EXPECT(apikey_issue(&keys, "No", key, sizeof(key)) != 0);
}

int main(void)
{
    derive_keys_init(&keys, "a secret of at least thirty-two bytes!!", 39);
    derive_keys_init(&other, "another secret of at least thirty-two bytes", 43);
    test_round_trip();
    test_malformed();
    test_tenants();
    return test_finish("apikey");
}
