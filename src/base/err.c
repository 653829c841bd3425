/* err.c -- names for the shared error codes. */
#include "base/err.h"

const char *err_name(int code)
{
    switch (code) {
    case E_OK: return "E_OK";
    case E_AGAIN: return "E_AGAIN";
    case E_PROTO: return "E_PROTO";
    case E_LIMIT: return "E_LIMIT";
    case E_IO: return "E_IO";
    case E_TIMEOUT: return "E_TIMEOUT";
    case E_NOTFOUND: return "E_NOTFOUND";
    case E_CONFLICT: return "E_CONFLICT";
    case E_FUNDS: return "E_FUNDS";
    case E_UNKNOWN: return "E_UNKNOWN";
    }
    return code > 0 ? "E_OK(n)" : "E_?";
}
