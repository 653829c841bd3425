/* web.c -- the operator's dashboard as static files: /admin/ and /admin/<path>.
 *
 * The dashboard is a handful of small files (web/admin/: HTML, one script, one style sheet, and
 * the QR code library the build copies from npm), all talking to the JSON API of admin.c. They
 * are read from disk on each request, synchronously: they are small, local and few, and reading
 * them afresh means an upgraded build is served at once without a cache to invalidate. Every
 * reply says "revalidate" (Cache-Control: no-cache) and carries an ETag, so a browser that has
 * the file gets a 304 without a body.
 *
 * Safety: the URL path is checked character by character (web_path_type) before it touches the
 * file system, so no "..", no hidden file, no percent-decoding; the file's real path (symlinks
 * resolved) must still lie under the real web root; only regular files up to WEB_MAX_FILE_BYTES
 * with a known extension are sent. Each file goes out with a strict Content-Security-Policy
 * (scripts, styles and connections from this origin only, no inline script), nosniff, and
 * X-Frame-Options: DENY, since the dashboard holds the operator's money. */
#include "app/web.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "app/app.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"

#define WEB_MAX_PATH 200

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                          "form-action 'self'; frame-ancestors 'none'";

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
};

const char *web_path_type(const char *rest, size_t len)
{
    if (len == 0 || len > WEB_MAX_PATH)
        return NULL;
    bool seg_start = true;
    for (size_t i = 0; i < len; i++) {
        char ch = rest[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' || ch == '/';
        if (!ok)
            return NULL;
        if (seg_start && (ch == '.' || ch == '/')) /* hidden, "..", or an empty segment */
            return NULL;
        seg_start = ch == '/';
    }
    if (seg_start) /* ends in '/': a directory */
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].ext);
        if (len > n && memcmp(rest + len - n, types[i].ext, n) == 0)
            return types[i].type;
    }
    return NULL;
}

/* The real path of the web root: WEB_DIR, else 'web' beside the executable, else ./web. */
static bool web_root(const struct config *c, char out[PATH_MAX])
{
    if (*c->web_dir)
        return realpath(c->web_dir, out) != NULL;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash && (size_t)(slash - exe) + sizeof("/web") <= sizeof(exe)) {
            memcpy(slash, "/web", sizeof("/web"));
            struct stat st;
            if (realpath(exe, out) && stat(out, &st) == 0 && S_ISDIR(st.st_mode))
                return true;
        }
    }
    return realpath("web", out) != NULL;
}

/* Headers every dashboard reply carries, beside app_reply_headers' request id and CORS. */
static void security_headers(struct app_req *r)
{
    app_reply_headers(r);
    app_reply_header(r, "Content-Security-Policy", CSP);
    app_reply_header(r, "X-Content-Type-Options", "nosniff");
    app_reply_header(r, "X-Frame-Options", "DENY");
    app_reply_header(r, "Referrer-Policy", "no-referrer");
    app_reply_header(r, "Cache-Control", "no-cache");
}

static void send_status(struct app_req *r, int status, const char *reason)
{
    r->status = status;
    evhttp_send_reply(r->req, status, reason, NULL);
    app_req_log(r);
}

static void redirect(struct app_req *r, int status, const char *location)
{
    if (r->closed)
        return;
    app_reply_headers(r);
    app_reply_header(r, "Location", location);
    app_reply_header(r, "Cache-Control", "no-cache");
    app_reply_header(r, "Content-Length", "0");
    send_status(r, status, status == 301 ? "Moved Permanently" : "Found");
}

static void not_found(struct app_req *r)
{
    app_reply_error(r, 404, "not_found", NULL, "Path '%s' not found", r->path);
}

/* Reads exactly 'size' bytes of 'fd' (a regular file). Returns a malloc'd buffer or NULL. */
static char *read_all(int fd, size_t size)
{
    char *p = xmalloc(size ? size : 1);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, p + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(p);
            return NULL;
        }
        got += (size_t)n;
    }
    return p;
}

static void send_file(struct app_req *r, const char *file, const char *type)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        not_found(r);
        return;
    }
    if (st.st_size > (off_t)WEB_MAX_FILE_BYTES) {
        close(fd);
        log_warn("web: %s is over %u bytes: not served", file, WEB_MAX_FILE_BYTES);
        not_found(r);
        return;
    }
    size_t size = (size_t)st.st_size;
    char etag[64];
    snprintf(etag, sizeof(etag), "\"%zx-%llx\"", size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(r->req),
                                         "If-None-Match");
    bool head = evhttp_request_get_command(r->req) == EVHTTP_REQ_HEAD;
    if (inm && strcmp(inm, etag) == 0) {
        close(fd);
        security_headers(r);
        app_reply_header(r, "ETag", etag);
        send_status(r, 304, "Not Modified");
        return;
    }
    char *body = head ? NULL : read_all(fd, size);
    close(fd);
    if (!head && body == NULL) {
        log_warn("web: cannot read %s", file);
        app_reply_error(r, 500, "internal_error", NULL, "Cannot read the dashboard's file");
        return;
    }
    if (r->closed) {
        free(body);
        return;
    }
    char len[32];
    snprintf(len, sizeof(len), "%zu", size);
    security_headers(r);
    app_reply_header(r, "Content-Type", type);
    app_reply_header(r, "ETag", etag);
    app_reply_header(r, "Content-Length", len); /* also for HEAD, which sends no body */
    struct evbuffer *out = evbuffer_new();
    if (body)
        evbuffer_add(out, body, size);
    free(body);
    r->status = 200;
    r->bytes_out = head ? 0 : size;
    evhttp_send_reply(r->req, 200, "OK", out);
    evbuffer_free(out);
    app_req_log(r);
}

void web_handle(struct app_req *r)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(r->req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        app_reply_header(r, "Allow", "GET, HEAD");
        app_reply_error(r, 405, "method_not_allowed", NULL, "Use GET on %s", r->path);
        return;
    }
    /* From the raw target, not r->path (which is cut at 255 bytes): a long path is refused,
     * never shortened into another file's name. */
    const char *uri = evhttp_request_get_uri(r->req);
    size_t len = strcspn(uri, "?#");
    if (len == 6) { /* "/admin" */
        redirect(r, 301, "/admin/");
        return;
    }
    const char *rest = uri + 7; /* after "/admin/" (routes.c checked the prefix) */
    size_t rlen = len - 7;
    if (rlen == 0) {
        rest = "index.html";
        rlen = strlen(rest);
    }
    const char *type = web_path_type(rest, rlen);
    char root[PATH_MAX], want[PATH_MAX], real[PATH_MAX];
    if (type == NULL) {
        not_found(r);
        return;
    }
    if (!web_root(&r->app->cfg, root)) {
        log_warn("web: no dashboard files (WEB_DIR, or web/ beside the executable): %s",
                 strerror(errno));
        app_reply_error(r, 404, "not_found", "dashboard_not_installed",
                        "The dashboard's files are not installed (see WEB_DIR)");
        return;
    }
    int n = snprintf(want, sizeof(want), "%s/admin/%.*s", root, (int)rlen, rest);
    if (n < 0 || (size_t)n >= sizeof(want) || realpath(want, real) == NULL) {
        not_found(r);
        return;
    }
    /* A symlink inside the root may point anywhere: what it resolves to must stay inside. */
    size_t rootlen = strlen(root);
    if (rootlen == 1) /* the root is "/" */
        rootlen = 0;
    if (strncmp(real, root, rootlen) != 0 || real[rootlen] != '/') {
        log_warn("web: %s resolves outside the web root: refused", want);
        not_found(r);
        return;
    }
    send_file(r, real, type);
}

bool web_browser_root(struct app_req *r)
{
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Accept");
    if (accept && strstr(accept, "text/html")) {
        app_reply_header(r, "Vary", "Accept");
        redirect(r, 302, "/admin/");
        return true;
    }
    app_reply_header(r, "Vary", "Accept");
    return false;
}
