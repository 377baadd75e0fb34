/* test_scramble: scramble411_hex against vectors from an independent
 * implementation (Python hashlib), not from the code under test.
 *
 * The expected values were computed with this one-liner (PW_HEX and SEED_HEX
 * are the hex of the password's UTF-8 bytes and of the seed):
 *
 *   python3 -c 'import hashlib,sys; pw=bytes.fromhex(sys.argv[1]); seed=bytes.fromhex(sys.argv[2]); s1=hashlib.sha1(pw).digest(); s2=hashlib.sha1(s1).digest(); s3=hashlib.sha1(seed+s2).digest(); print(bytes(a^b for a,b in zip(s1,s3)).hex() if pw else "")' PW_HEX SEED_HEX
 *
 * e.g. PW_HEX=63616e616c ("canal") SEED_HEX=0102030405060708.
 * i.e. hex(SHA1(pw) XOR SHA1(seed + SHA1(SHA1(pw)))), lowercase. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "source/scramble.h"

static void check(const char *pw, const uint8_t *seed, size_t seed_len, const char *expected)
{
    char out[SCRAMBLE_HEX_LEN + 1];
    memset(out, 'X', sizeof out);
    scramble411_hex(pw, seed, seed_len, out);
    assert_string_equal(out, expected);
}

static void test_canal_8_byte_seed(void **state)
{
    (void)state;
    static const uint8_t seed[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    check("canal", seed, sizeof seed, "7de44690d8e53782cb61804a2455c284a3bbfb06");
}

static void test_canal_ascii_seed(void **state)
{
    (void)state;
    static const uint8_t seed[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    check("canal", seed, sizeof seed, "2ca3c4409bc529a18dfd1511a308c5feb535518e");
}

/* The same password with another seed must give another answer. */
static void test_seed_matters(void **state)
{
    (void)state;
    static const uint8_t s1[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    static const uint8_t s2[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09};
    char a[SCRAMBLE_HEX_LEN + 1], b[SCRAMBLE_HEX_LEN + 1];
    scramble411_hex("canal", s1, sizeof s1, a);
    scramble411_hex("canal", s2, sizeof s2, b);
    assert_int_equal(strlen(a), SCRAMBLE_HEX_LEN);
    assert_string_not_equal(a, b);
}

/* UTF-8 password "密码Pässwörd"; the seed holds NUL, 0x80 and 0xFF bytes. */
static void test_utf8_password(void **state)
{
    (void)state;
    static const uint8_t seed[8] = {0x3a, 0x7f, 0x00, 0x80, 0xff, 0x10, 0x22, 0x5c};
    check("\xe5\xaf\x86\xe7\xa0\x81P\xc3\xa4ssw\xc3\xb6rd", seed, sizeof seed,
          "5f2ac6f5d81ff1a8f563b1b5ee096871b3260927");
}

static void test_20_byte_seed(void **state)
{
    (void)state;
    static const uint8_t seed[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    check("secret", seed, sizeof seed, "b32bb3a583e1340c0a1108d58b1be49781ad8c2f");
}

static void test_empty_seed(void **state)
{
    (void)state;
    check("p", (const uint8_t *)"", 0, "085cb719ead551b318f8323f8bd8c0a746f02d6d");
}

static void test_empty_password(void **state)
{
    (void)state;
    static const uint8_t seed[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    check("", seed, sizeof seed, "");
    check(NULL, seed, sizeof seed, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canal_8_byte_seed), cmocka_unit_test(test_canal_ascii_seed),
        cmocka_unit_test(test_seed_matters),      cmocka_unit_test(test_utf8_password),
        cmocka_unit_test(test_20_byte_seed),      cmocka_unit_test(test_empty_seed),
        cmocka_unit_test(test_empty_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
