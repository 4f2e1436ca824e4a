/*
 * Pseudonymization of identifiers with HMAC-SHA-256 and a secret key.
 *
 * A pseudonym reads "<key id>:<22 base64url characters>": the first 16 bytes
 * of HMAC-SHA-256(key, kind || 0x00 || normalized identifier). The kind
 * ("addr", "phone", "person") separates the domains, so an address never
 * shares a pseudonym with a phone number of the same digits. The key id
 * travels with every pseudonym so keys can be rotated: pseudonyms made with
 * different keys never compare equal.
 */
#ifndef HEARTH_PSEUDO_H
#define HEARTH_PSEUDO_H

#include <stddef.h>

#define HEARTH_PSEUDO_MIN_KEY_BYTES 16
#define HEARTH_PSEUDO_MAX_KEY_BYTES 1024
#define HEARTH_PSEUDO_MAX_KEY_ID 32
/* key id, ':', 22 characters, NUL */
#define HEARTH_PSEUDO_MAX_LEN (HEARTH_PSEUDO_MAX_KEY_ID + 24)

typedef struct hearth_pseudo hearth_pseudo_t;

/*
 * Loads the secret key from path. The file must be a regular file that
 * neither group nor others may read, with 16 to 1024 bytes (one trailing
 * newline is dropped). key_id must be 1 to 32 characters of [A-Za-z0-9_-].
 * Returns NULL and fills errstr on failure; the message never contains key
 * bytes.
 */
hearth_pseudo_t *hearth_pseudo_load(const char *path, const char *key_id,
                                    char *errstr, size_t errstr_size);

/* Creates a pseudonymizer from key bytes in memory (tests, tools). */
hearth_pseudo_t *hearth_pseudo_new(const unsigned char *key, size_t key_len,
                                   const char *key_id);

/*
 * Writes the pseudonym of the len bytes at id into out (at least
 * HEARTH_PSEUDO_MAX_LEN bytes). Returns the pseudonym's length.
 */
size_t hearth_pseudo_key(const hearth_pseudo_t *p, const char *kind,
                         const char *id, size_t len, char *out);

/* Wipes the key from memory and frees. */
void hearth_pseudo_free(hearth_pseudo_t *p);

#endif
