/* source/scramble: scramble411 with OpenSSL's SHA-1. */
#include "source/scramble.h"

#include <openssl/evp.h>
#include <string.h>

static void scramble_sha1(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[20])
{
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 || EVP_DigestUpdate(ctx, a, alen) != 1 ||
        (blen && EVP_DigestUpdate(ctx, b, blen) != 1) || EVP_DigestFinal_ex(ctx, out, &n) != 1)
        memset(out, 0, 20); /* only on OOM; auth then fails loudly on the server */
    EVP_MD_CTX_free(ctx);
}

void scramble411_hex(const char *password, const uint8_t *seed, size_t seed_len, char out[SCRAMBLE_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\0';
    if (password == NULL || *password == '\0')
        return;
    uint8_t s1[20], s2[20], s3[20];
    scramble_sha1((const uint8_t *)password, strlen(password), NULL, 0, s1);
    scramble_sha1(s1, sizeof s1, NULL, 0, s2);
    scramble_sha1(seed, seed_len, s2, sizeof s2, s3);
    for (int i = 0; i < 20; i++) {
        uint8_t x = s1[i] ^ s3[i];
        out[2 * i] = hex[x >> 4];
        out[2 * i + 1] = hex[x & 15];
    }
    out[SCRAMBLE_HEX_LEN] = '\0';
}
