/* err.h -- the error vocabulary every module shares.
 *
 * Fallible calls return 0 (E_OK) or one of these negative codes; incremental parsers return the
 * bytes consumed, E_AGAIN for partial input, or E_PROTO. Human detail, where a caller needs it,
 * goes in a 'char err[ERR_LEN]' out-parameter (redis anet). */
#ifndef ROUTSTR_BASE_ERR_H
#define ROUTSTR_BASE_ERR_H

enum err {
    E_OK = 0,
    E_AGAIN = -1,    /* need more input */
    E_PROTO = -2,    /* bad peer input */
    E_LIMIT = -3,    /* over a cap */
    E_IO = -4,       /* a system or library call failed */
    E_TIMEOUT = -5,
    E_NOTFOUND = -6,
    E_CONFLICT = -7, /* proof already spent, row changed under us */
    E_FUNDS = -8,    /* not enough balance */
    E_UNKNOWN = -9,  /* the peer may or may not have acted (a lost answer) */
};

#define ERR_LEN 256

/* Returns a short constant name for a code ("E_PROTO"), for logs and tests. */
const char *err_name(int code);

#endif
