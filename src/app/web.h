/* web.h -- the operator's dashboard as static files (web/admin/, served at /admin/).
 *
 * The files come from WEB_DIR: by default the 'web' directory beside the executable (the build
 * copies web/admin/ and the browser libraries there), else 'web' in the working directory. The
 * URL /admin/<path> is the file <root>/admin/<path>; /admin/ is its index.html. */
#ifndef ROUTSTR_APP_WEB_H
#define ROUTSTR_APP_WEB_H

#include <stdbool.h>
#include <stddef.h>

struct app_req;

/* Largest file served: the dashboard's own files and libraries are tens of kilobytes. */
#define WEB_MAX_FILE_BYTES (2u << 20)

/* Answers GET or HEAD /admin and /admin/<path> (the API under /admin/api/ is routed before):
 * the file with its Content-Type, validators and the security headers; 404 for a missing,
 * hidden or unsafe path, 405 for other methods. */
void web_handle(struct app_req *r);

/* GET / from a browser (Accept names text/html): redirects to /admin/ and returns true.
 * Otherwise adds "Vary: Accept" to the coming reply and returns false (the JSON summary). */
bool web_browser_root(struct app_req *r);

/* Checks the part of a URL path after "/admin/": letters, digits, '.', '-', '_' and '/',
 * no empty segment and no segment starting with '.' (so no "..", no hidden file), at most
 * 200 bytes, ending in a known extension. Returns its Content-Type, or NULL when refused. */
const char *web_path_type(const char *rest, size_t len);

#endif
