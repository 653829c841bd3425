/* str.h -- non-owning string slices and small text helpers.
 *
 * A 'struct str' never owns its bytes (h2o's iovec): copy anything kept past the call. */
#ifndef ROUTSTR_BASE_STR_H
#define ROUTSTR_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct str {
    const char *p;
    size_t len;
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})

struct str str_from(const char *s);
/* Strips ASCII space and tab from both ends. */
struct str str_trim(struct str s);
bool str_eq(struct str a, const char *b);
bool str_ieq(struct str a, const char *b);
bool str_has_prefix(struct str s, const char *prefix);
bool str_ihas_prefix(struct str s, const char *prefix);

/* Parses a whole decimal integer within [min, max]. Returns 0 or E_PROTO. */
int str_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parses "true/false/1/0/yes/no/on/off" (any case). Returns 0 or E_PROTO. */
int str_parse_bool(const char *s, bool *out);
/* Parses a non-negative decimal number of seconds ("10", "0.25") into milliseconds, at most
 * max_ms. Returns 0 or E_PROTO. */
int str_parse_seconds_ms(const char *s, int64_t max_ms, int64_t *out_ms);

/* Lower-case hex of n bytes into out (2n+1 bytes with the NUL). */
void hex_encode(char *out, const uint8_t *p, size_t n);
/* Decodes exactly 2n hex digits (either case) into n bytes. Returns 0 or E_PROTO. */
int hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen);

#endif
