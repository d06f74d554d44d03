/* SPDX-License-Identifier: Apache-2.0 OR MIT */
/*
 * The set of revoked API key ids, read on every authenticated request and replaced
 * whole when the source changes (a file on the embedded store, Redis otherwise).
 * Readers take no lock: the current set is one atomic pointer. A replaced set is freed
 * only after a grace period far longer than any reader holds it.
 */
#ifndef RW_AUTH_REVOCATIONS_H
#define RW_AUTH_REVOCATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct revocations revocations_t;

revocations_t *revocations_create(void);
void revocations_destroy(revocations_t *r);

/* Is `key_id` (24 hex digits) revoked? Safe from any thread. */
bool revocations_contains(revocations_t *r, const char *key_id);

/* Publishes the set `ids` (each 24 hex digits) in place of the current one. */
void revocations_replace(revocations_t *r, char *const *ids, size_t count);

size_t revocations_count(revocations_t *r);

/* Asks the source (file watcher or Redis poller) to reload now; safe from any thread. */
void revocations_request_reload(revocations_t *r);

/* Takes a pending reload request: 1 if there was one. */
int revocations_reload_requested(revocations_t *r);

/*
 * The embedded store's revocation file: one line per key id, "<key id> <RFC 3339 time>".
 * revocations_file_read() returns the ids (caller frees each and the array) or -1 if the
 * file exists but cannot be read; a missing file is an empty list.
 */
int revocations_file_read(const char *path, char ***ids, size_t *count);
int revocations_file_append(const char *path, const char *key_id);

/* Watches `path` from a thread of its own and republishes on change (checked twice a second). */
int revocations_watch_file(revocations_t *r, const char *path);

#endif
