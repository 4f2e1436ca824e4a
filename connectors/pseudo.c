/*
 * HMAC-SHA-256 pseudonyms (OpenSSL libcrypto). The key lives only in this
 * struct and is wiped with OPENSSL_cleanse on free.
 */
#include "connectors/pseudo.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct hearth_pseudo {
        unsigned char key[HEARTH_PSEUDO_MAX_KEY_BYTES];
        size_t key_len;
        char key_id[HEARTH_PSEUDO_MAX_KEY_ID + 1];
};

static int key_id_valid(const char *key_id)
{
        size_t len = strlen(key_id);

        if (len == 0 || len > HEARTH_PSEUDO_MAX_KEY_ID)
                return 0;
        for (size_t i = 0; i < len; i++) {
                char c = key_id[i];

                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

hearth_pseudo_t *hearth_pseudo_new(const unsigned char *key, size_t key_len,
                                   const char *key_id)
{
        hearth_pseudo_t *p;

        if (key_len < HEARTH_PSEUDO_MIN_KEY_BYTES ||
            key_len > HEARTH_PSEUDO_MAX_KEY_BYTES || !key_id_valid(key_id))
                return NULL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return NULL;
        memcpy(p->key, key, key_len);
        p->key_len = key_len;
        snprintf(p->key_id, sizeof(p->key_id), "%s", key_id);
        return p;
}

static ssize_t read_key_file(int fd, unsigned char *buf, size_t size)
{
        size_t total = 0;

        while (total < size) {
                ssize_t n = read(fd, buf + total, size - total);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -1;
                if (n == 0)
                        break;
                total += (size_t)n;
        }
        return (ssize_t)total;
}

hearth_pseudo_t *hearth_pseudo_load(const char *path, const char *key_id,
                                    char *errstr, size_t errstr_size)
{
        unsigned char buf[HEARTH_PSEUDO_MAX_KEY_BYTES + 2];
        hearth_pseudo_t *p = NULL;
        struct stat st;
        ssize_t len;
        int fd;

        if (!key_id_valid(key_id)) {
                snprintf(errstr, errstr_size,
                         "invalid key id: use 1 to %d characters of "
                         "A-Z, a-z, 0-9, '_' and '-'",
                         HEARTH_PSEUDO_MAX_KEY_ID);
                return NULL;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                snprintf(errstr, errstr_size, "cannot open key file %s: %s",
                         path, strerror(errno));
                return NULL;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
                snprintf(errstr, errstr_size,
                         "key file %s is not a regular file", path);
                goto out;
        }
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
                snprintf(errstr, errstr_size,
                         "key file %s is accessible by group or others "
                         "(mode %03o); run: chmod 600 %s",
                         path, (unsigned)(st.st_mode & 0777), path);
                goto out;
        }
        len = read_key_file(fd, buf, sizeof(buf));
        if (len < 0) {
                snprintf(errstr, errstr_size, "cannot read key file %s: %s",
                         path, strerror(errno));
                goto out;
        }
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (len < HEARTH_PSEUDO_MIN_KEY_BYTES ||
            len > HEARTH_PSEUDO_MAX_KEY_BYTES) {
                snprintf(errstr, errstr_size,
                         "key file %s must hold %d to %d bytes of secret; "
                         "create one with: head -c 32 /dev/urandom | "
                         "base64 > FILE",
                         path, HEARTH_PSEUDO_MIN_KEY_BYTES,
                         HEARTH_PSEUDO_MAX_KEY_BYTES);
                goto out;
        }
        p = hearth_pseudo_new(buf, (size_t)len, key_id);
        if (!p)
                snprintf(errstr, errstr_size, "out of memory");
out:
        OPENSSL_cleanse(buf, sizeof(buf));
        close(fd);
        return p;
}

static size_t base64url_encode(const unsigned char *in, size_t len, char *out)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "abcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t n = 0;
        uint32_t acc = 0;
        int bits = 0;

        for (size_t i = 0; i < len; i++) {
                acc = (acc << 8) | in[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        out[n++] = alphabet[(acc >> bits) & 0x3f];
                }
        }
        if (bits > 0)
                out[n++] = alphabet[(acc << (6 - bits)) & 0x3f];
        out[n] = '\0';
        return n;
}

size_t hearth_pseudo_key(const hearth_pseudo_t *p, const char *kind,
                         const char *id, size_t len, char *out)
{
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        unsigned char stack_buf[512];
        unsigned char *msg = stack_buf;
        size_t kind_len = strlen(kind) + 1;
        size_t n;

        /* The message is kind, a NUL separator, then the identifier. */
        if (kind_len + len > sizeof(stack_buf)) {
                msg = malloc(kind_len + len);
                if (!msg)
                        abort();
        }
        memcpy(msg, kind, kind_len);
        memcpy(msg + kind_len, id, len);
        HMAC(EVP_sha256(), p->key, (int)p->key_len, msg, kind_len + len, mac,
             &mac_len);
        if (msg != stack_buf)
                free(msg);

        n = (size_t)snprintf(out, HEARTH_PSEUDO_MAX_LEN, "%s:", p->key_id);
        n += base64url_encode(mac, 16, out + n);
        return n;
}

void hearth_pseudo_free(hearth_pseudo_t *p)
{
        if (!p)
                return;
        OPENSSL_cleanse(p, sizeof(*p));
        free(p);
}
