/*
 * Tests for connectors/pseudo.c. The expected pseudonyms were computed
 * outside this code with Python's hmac module, for example:
 *
 *   k = b"hearth-unit-test-key-0123456789ab"
 *   m = hmac.new(k, b"phone\0" b"13800000001", hashlib.sha256).digest()
 *   "k1:" + base64.urlsafe_b64encode(m[:16]).decode().rstrip("=")
 *
 * and the phone case was checked again with `openssl dgst -sha256 -hmac`.
 */
#include "connectors/pseudo.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY "hearth-unit-test-key-0123456789ab"
#define KEY_LEN (sizeof(KEY) - 1)

static char key_path[64];

static hearth_pseudo_t *new_pseudo(const char *key_id)
{
        hearth_pseudo_t *p =
                hearth_pseudo_new((const unsigned char *)KEY, KEY_LEN, key_id);

        ck_assert_ptr_nonnull(p);
        return p;
}

/* Returns the pseudonym of the NUL-terminated id in a static buffer. */
static const char *pseudonym(const hearth_pseudo_t *p, const char *kind,
                             const char *id)
{
        static char out[HEARTH_PSEUDO_MAX_LEN];
        size_t n = hearth_pseudo_key(p, kind, id, strlen(id), out);

        ck_assert_uint_eq(n, strlen(out));
        return out;
}

/* Writes len bytes to a new temporary file with the given mode. */
static const char *write_key_file(const char *bytes, size_t len, mode_t mode)
{
        int fd;

        snprintf(key_path, sizeof(key_path), "/tmp/hearth-key-XXXXXX");
        fd = mkstemp(key_path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, bytes, len), (ssize_t)len);
        ck_assert_int_eq(close(fd), 0);
        ck_assert_int_eq(chmod(key_path, mode), 0);
        return key_path;
}

static void remove_key_file(void)
{
        if (key_path[0])
                unlink(key_path);
        key_path[0] = '\0';
}

START_TEST(known_answer_phone)
{
        hearth_pseudo_t *p = new_pseudo("k1");

        ck_assert_str_eq(pseudonym(p, "phone", "13800000001"),
                         "k1:0Uq18blBmZ8f9Tb1dws7FQ");
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(known_answer_person)
{
        hearth_pseudo_t *p = new_pseudo("k1");

        ck_assert_str_eq(pseudonym(p, "person", "110101199001011234"),
                         "k1:GthPDBnMmm9zh3d58K7EmA");
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(known_answer_address)
{
        hearth_pseudo_t *p = new_pseudo("k1");

        ck_assert_str_eq(pseudonym(p, "addr", "1234 N 35TH ST"),
                         "k1:84xDoerYaVzDldPO0efWpA");
        hearth_pseudo_free(p);
}
END_TEST

/* 600 bytes do not fit the 512-byte stack buffer, so the heap path runs. */
START_TEST(known_answer_long_id)
{
        hearth_pseudo_t *p = new_pseudo("k1");
        char id[601];

        memset(id, 'A', 600);
        id[600] = '\0';
        ck_assert_str_eq(pseudonym(p, "addr", id), "k1:nXegzFX1Zgy_ZFIUC1xOlA");
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(format_is_key_id_and_22_chars)
{
        hearth_pseudo_t *p = new_pseudo("key-2024_a");
        const char *s = pseudonym(p, "phone", "13800000001");
        const char *b64 = s + strlen("key-2024_a:");

        ck_assert_uint_eq(strlen(s), strlen("key-2024_a:") + 22);
        ck_assert_int_eq(strncmp(s, "key-2024_a:", 11), 0);
        ck_assert_uint_eq(strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_"),
                          22);
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(kinds_give_different_pseudonyms)
{
        hearth_pseudo_t *p = new_pseudo("k1");
        char phone[HEARTH_PSEUDO_MAX_LEN], addr[HEARTH_PSEUDO_MAX_LEN];

        snprintf(phone, sizeof(phone), "%s", pseudonym(p, "phone", "1234"));
        snprintf(addr, sizeof(addr), "%s", pseudonym(p, "addr", "1234"));
        ck_assert_str_ne(phone, addr);
        hearth_pseudo_free(p);
}
END_TEST

/* "ad" + NUL + "dr..." must not collide with "add" + NUL + "r...". */
START_TEST(kind_boundary_is_separated)
{
        hearth_pseudo_t *p = new_pseudo("k1");
        char a[HEARTH_PSEUDO_MAX_LEN], b[HEARTH_PSEUDO_MAX_LEN];

        snprintf(a, sizeof(a), "%s", pseudonym(p, "ad", "dr1"));
        snprintf(b, sizeof(b), "%s", pseudonym(p, "add", "r1"));
        ck_assert_str_ne(a, b);
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(same_input_same_pseudonym)
{
        hearth_pseudo_t *p = new_pseudo("k1");
        hearth_pseudo_t *q = new_pseudo("k1");
        char a[HEARTH_PSEUDO_MAX_LEN];

        snprintf(a, sizeof(a), "%s", pseudonym(p, "person", "X123"));
        ck_assert_str_eq(pseudonym(q, "person", "X123"), a);
        hearth_pseudo_free(p);
        hearth_pseudo_free(q);
}
END_TEST

START_TEST(different_ids_differ)
{
        hearth_pseudo_t *p = new_pseudo("k1");
        char a[HEARTH_PSEUDO_MAX_LEN];

        snprintf(a, sizeof(a), "%s", pseudonym(p, "phone", "13800000001"));
        ck_assert_str_ne(pseudonym(p, "phone", "13800000002"), a);
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(key_ids_differ)
{
        hearth_pseudo_t *p = new_pseudo("k1");
        hearth_pseudo_t *q = new_pseudo("k2");
        char a[HEARTH_PSEUDO_MAX_LEN];

        snprintf(a, sizeof(a), "%s", pseudonym(p, "phone", "13800000001"));
        ck_assert_str_ne(pseudonym(q, "phone", "13800000001"), a);
        /* Only the prefix differs when the key bytes are the same. */
        ck_assert_str_eq(pseudonym(q, "phone", "13800000001") + 2, a + 2);
        hearth_pseudo_free(p);
        hearth_pseudo_free(q);
}
END_TEST

START_TEST(keys_differ)
{
        static const unsigned char other[] = "another-test-key-0123456789abcd";
        hearth_pseudo_t *p = new_pseudo("k1");
        hearth_pseudo_t *q = hearth_pseudo_new(other, sizeof(other) - 1, "k1");
        char a[HEARTH_PSEUDO_MAX_LEN];

        ck_assert_ptr_nonnull(q);
        snprintf(a, sizeof(a), "%s", pseudonym(p, "phone", "13800000001"));
        ck_assert_str_ne(pseudonym(q, "phone", "13800000001"), a);
        hearth_pseudo_free(p);
        hearth_pseudo_free(q);
}
END_TEST

START_TEST(new_rejects_short_key)
{
        ck_assert_ptr_null(hearth_pseudo_new((const unsigned char *)KEY, 15,
                                             "k1"));
        ck_assert_ptr_null(hearth_pseudo_new((const unsigned char *)KEY, 0,
                                             "k1"));
}
END_TEST

START_TEST(new_accepts_16_byte_key)
{
        hearth_pseudo_t *p =
                hearth_pseudo_new((const unsigned char *)KEY, 16, "k1");

        ck_assert_ptr_nonnull(p);
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(new_rejects_long_key)
{
        unsigned char *key = calloc(1, HEARTH_PSEUDO_MAX_KEY_BYTES + 1);

        ck_assert_ptr_null(hearth_pseudo_new(
                key, HEARTH_PSEUDO_MAX_KEY_BYTES + 1, "k1"));
        free(key);
}
END_TEST

START_TEST(new_rejects_bad_key_ids)
{
        const unsigned char *key = (const unsigned char *)KEY;
        char long_id[HEARTH_PSEUDO_MAX_KEY_ID + 2];
        hearth_pseudo_t *p;

        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        ck_assert_ptr_null(hearth_pseudo_new(key, KEY_LEN, ""));
        ck_assert_ptr_null(hearth_pseudo_new(key, KEY_LEN, "k:1"));
        ck_assert_ptr_null(hearth_pseudo_new(key, KEY_LEN, "k 1"));
        ck_assert_ptr_null(hearth_pseudo_new(key, KEY_LEN, "k.1"));
        ck_assert_ptr_null(hearth_pseudo_new(key, KEY_LEN, long_id));
        /* 32 characters is the maximum. */
        long_id[HEARTH_PSEUDO_MAX_KEY_ID] = '\0';
        p = hearth_pseudo_new(key, KEY_LEN, long_id);
        ck_assert_ptr_nonnull(p);
        hearth_pseudo_free(p);
}
END_TEST

START_TEST(load_mode_600_accepted)
{
        char err[256] = "";
        const char *path = write_key_file(KEY, KEY_LEN, 0600);
        hearth_pseudo_t *p = hearth_pseudo_load(path, "k1", err, sizeof(err));

        ck_assert_msg(p != NULL, "load failed: %s", err);
        ck_assert_str_eq(pseudonym(p, "phone", "13800000001"),
                         "k1:0Uq18blBmZ8f9Tb1dws7FQ");
        hearth_pseudo_free(p);
        remove_key_file();
}
END_TEST

START_TEST(load_mode_644_rejected)
{
        char err[256] = "";
        const char *path = write_key_file(KEY, KEY_LEN, 0644);

        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
        ck_assert_ptr_nonnull(strstr(err, path));
        ck_assert_ptr_nonnull(strstr(err, "644"));
        remove_key_file();
}
END_TEST

START_TEST(load_group_readable_rejected)
{
        char err[256] = "";
        const char *path = write_key_file(KEY, KEY_LEN, 0640);

        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
        remove_key_file();
}
END_TEST

START_TEST(load_other_writable_rejected)
{
        char err[256] = "";
        const char *path = write_key_file(KEY, KEY_LEN, 0602);

        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
        remove_key_file();
}
END_TEST

START_TEST(load_drops_trailing_newline)
{
        char err[256] = "";
        const char *path = write_key_file(KEY "\n", KEY_LEN + 1, 0600);
        hearth_pseudo_t *p = hearth_pseudo_load(path, "k1", err, sizeof(err));

        ck_assert_msg(p != NULL, "load failed: %s", err);
        ck_assert_str_eq(pseudonym(p, "phone", "13800000001"),
                         "k1:0Uq18blBmZ8f9Tb1dws7FQ");
        hearth_pseudo_free(p);
        remove_key_file();
}
END_TEST

/* Only one newline is dropped: the second is part of the key. */
START_TEST(load_keeps_second_newline)
{
        char err[256] = "";
        const char *path = write_key_file(KEY "\n\n", KEY_LEN + 2, 0600);
        hearth_pseudo_t *p = hearth_pseudo_load(path, "k1", err, sizeof(err));

        ck_assert_msg(p != NULL, "load failed: %s", err);
        ck_assert_str_ne(pseudonym(p, "phone", "13800000001"),
                         "k1:0Uq18blBmZ8f9Tb1dws7FQ");
        hearth_pseudo_free(p);
        remove_key_file();
}
END_TEST

/* 15 bytes and a newline: the file has 16 bytes but the key only 15. */
START_TEST(load_short_key_rejected)
{
        char err[256] = "";
        const char *path = write_key_file("0123456789abcde\n", 16, 0600);

        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "16 to 1024 bytes"));
        ck_assert_ptr_null(strstr(err, "0123456789abcde"));
        remove_key_file();
}
END_TEST

START_TEST(load_empty_file_rejected)
{
        char err[256] = "";
        const char *path = write_key_file("", 0, 0600);

        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "16 to 1024 bytes"));
        remove_key_file();
}
END_TEST

START_TEST(load_oversized_key_rejected)
{
        char err[256] = "";
        char *big = malloc(HEARTH_PSEUDO_MAX_KEY_BYTES + 1);
        const char *path;

        memset(big, 'k', HEARTH_PSEUDO_MAX_KEY_BYTES + 1);
        path = write_key_file(big, HEARTH_PSEUDO_MAX_KEY_BYTES + 1, 0600);
        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "16 to 1024 bytes"));
        free(big);
        remove_key_file();
}
END_TEST

/* The maximum key plus its newline still fits the read buffer. */
START_TEST(load_max_key_with_newline_accepted)
{
        char err[256] = "";
        char *big = malloc(HEARTH_PSEUDO_MAX_KEY_BYTES + 1);
        const char *path;
        hearth_pseudo_t *p;

        memset(big, 'k', HEARTH_PSEUDO_MAX_KEY_BYTES);
        big[HEARTH_PSEUDO_MAX_KEY_BYTES] = '\n';
        path = write_key_file(big, HEARTH_PSEUDO_MAX_KEY_BYTES + 1, 0600);
        p = hearth_pseudo_load(path, "k1", err, sizeof(err));
        ck_assert_msg(p != NULL, "load failed: %s", err);
        hearth_pseudo_free(p);
        free(big);
        remove_key_file();
}
END_TEST

START_TEST(load_bad_key_id_rejected)
{
        char err[256] = "";
        const char *path = write_key_file(KEY, KEY_LEN, 0600);

        ck_assert_ptr_null(hearth_pseudo_load(path, "bad id", err,
                                              sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "invalid key id"));
        ck_assert_ptr_null(hearth_pseudo_load(path, "", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "invalid key id"));
        remove_key_file();
}
END_TEST

START_TEST(load_missing_file_rejected)
{
        char err[256] = "";

        ck_assert_ptr_null(hearth_pseudo_load("/nonexistent/hearth.key", "k1",
                                              err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "/nonexistent/hearth.key"));
}
END_TEST

START_TEST(load_directory_rejected)
{
        char err[256] = "";

        ck_assert_ptr_null(hearth_pseudo_load("/tmp", "k1", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(load_error_hides_key_bytes)
{
        char err[256] = "";
        const char *path = write_key_file(KEY, KEY_LEN, 0644);

        ck_assert_ptr_null(hearth_pseudo_load(path, "k1", err, sizeof(err)));
        ck_assert_ptr_null(strstr(err, "hearth-unit-test-key"));
        remove_key_file();
}
END_TEST

Suite *hearth_test_pseudo_suite(void)
{
        Suite *s = suite_create("pseudo");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, known_answer_phone);
        tcase_add_test(tc, known_answer_person);
        tcase_add_test(tc, known_answer_address);
        tcase_add_test(tc, known_answer_long_id);
        tcase_add_test(tc, format_is_key_id_and_22_chars);
        tcase_add_test(tc, kinds_give_different_pseudonyms);
        tcase_add_test(tc, kind_boundary_is_separated);
        tcase_add_test(tc, same_input_same_pseudonym);
        tcase_add_test(tc, different_ids_differ);
        tcase_add_test(tc, key_ids_differ);
        tcase_add_test(tc, keys_differ);
        tcase_add_test(tc, new_rejects_short_key);
        tcase_add_test(tc, new_accepts_16_byte_key);
        tcase_add_test(tc, new_rejects_long_key);
        tcase_add_test(tc, new_rejects_bad_key_ids);
        tcase_add_test(tc, load_mode_600_accepted);
        tcase_add_test(tc, load_mode_644_rejected);
        tcase_add_test(tc, load_group_readable_rejected);
        tcase_add_test(tc, load_other_writable_rejected);
        tcase_add_test(tc, load_drops_trailing_newline);
        tcase_add_test(tc, load_keeps_second_newline);
        tcase_add_test(tc, load_short_key_rejected);
        tcase_add_test(tc, load_empty_file_rejected);
        tcase_add_test(tc, load_oversized_key_rejected);
        tcase_add_test(tc, load_max_key_with_newline_accepted);
        tcase_add_test(tc, load_bad_key_id_rejected);
        tcase_add_test(tc, load_missing_file_rejected);
        tcase_add_test(tc, load_directory_rejected);
        tcase_add_test(tc, load_error_hides_key_bytes);
        suite_add_tcase(s, tc);
        return s;
}
