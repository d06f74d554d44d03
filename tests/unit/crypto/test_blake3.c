/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The BLAKE3 build we link (Debian's C sources, our compile) against the official test
 * vectors: hash, keyed hash and derive-key, extended and default-length outputs.
 */
#include <stdlib.h>

#include <blake3.h>
#include <jansson.h>

#include "crypto/derive.h"
#include "test.h"

#define VECTORS "../shared/testdata/blake3_test_vectors.json"

static void check_output(blake3_hasher *h, const char *want_hex)
{
    size_t n = strlen(want_hex) / 2;
    uint8_t *out = malloc(n);
    char *hex = malloc(2 * n + 1);

    blake3_hasher_finalize(h, out, n);
    derive_hex(out, n, hex);
    EXPECT_STR(hex, want_hex);

    /* The default length is a prefix of the extended output. */
    uint8_t short_out[BLAKE3_OUT_LEN];
    char short_hex[2 * BLAKE3_OUT_LEN + 1];
    blake3_hasher_finalize(h, short_out, sizeof(short_out));
    derive_hex(short_out, sizeof(short_out), short_hex);
    EXPECT(strncmp(short_hex, want_hex, sizeof(short_hex) - 1) == 0);
    free(out);
    free(hex);
}

int main(int argc, char **argv)
{
    json_error_t err;
    const char *path = argc > 1 ? argv[1] : VECTORS;
    json_t *doc = json_load_file(path, 0, &err);
    size_t i;
    json_t *c;

    if (doc == NULL) {
        fprintf(stderr, "cannot read %s: %s\n", path, err.text);
        return 1;
    }
    const char *key = json_string_value(json_object_get(doc, "key"));
    const char *context = json_string_value(json_object_get(doc, "context_string"));

    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        size_t len = (size_t)json_integer_value(json_object_get(c, "input_len"));
        uint8_t *input = malloc(len ? len : 1);
        blake3_hasher h;
        char name[64];

        for (size_t b = 0; b < len; b++)
            input[b] = (uint8_t)(b % 251);
        snprintf(name, sizeof(name), "input_len %zu", len);
        test_case = name;

        blake3_hasher_init(&h);
        blake3_hasher_update(&h, input, len);
        check_output(&h, json_string_value(json_object_get(c, "hash")));

        blake3_hasher_init_keyed(&h, (const uint8_t *)key);
        blake3_hasher_update(&h, input, len);
        check_output(&h, json_string_value(json_object_get(c, "keyed_hash")));

        blake3_hasher_init_derive_key(&h, context);
        blake3_hasher_update(&h, input, len);
        check_output(&h, json_string_value(json_object_get(c, "derive_key")));
        free(input);
    }
    EXPECT(i == 35);
    json_decref(doc);
    return test_finish("blake3 official vectors");
}
