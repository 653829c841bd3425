/* store_pg.c -- the PostgreSQL backend: a few connections, driven by the event loop.
 *
 * Every connection is non-blocking (libpq's PQsendQueryParams, its socket watched by libevent),
 * so the loop never waits on the database. A transaction program runs on one free connection,
 * one statement per round trip: BEGIN, each statement (checking 'need_rows' as it goes, so a
 * refused step rolls back what came before), COMMIT. Programs wait in a FIFO while every
 * connection is busy. Several routstr processes may share the database: every rule that money
 * depends on is a conditional statement (UPDATE ... WHERE ...), which PostgreSQL serialises on
 * the row, never a read followed by a write in our memory.
 *
 * Durable programs commit with synchronous_commit on (the server's default); the others set it
 * off for their transaction, PostgreSQL's equivalent of SQLite's synchronous=NORMAL.
 *
 * Opening (connections, migrations under an advisory lock so two starting processes do not race)
 * blocks: it runs before the node serves. */
#include "store/store_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "base/log.h"
#include "base/xalloc.h"

#define PG_POOL 4
#define INT8OID 20
#define TEXTOID 25
#define MIGRATION_LOCK 0x726f757473747231LL /* "routstr1" */

/* A queued or running program, with its own copies of everything it points to. */
struct job {
    struct store_stmt *stmts;
    size_t n;
    bool durable;
    store_rows_fn *cb;
    void *ud;
    char **strs; /* copied parameter strings */
    size_t n_strs;
    struct job *next;
};

enum phase { PH_IDLE, PH_BEGIN, PH_STMT, PH_COMMIT, PH_ROLLBACK };

struct conn {
    struct pg *pg;
    PGconn *c;
    struct event *ev;
    struct job *job;
    enum phase phase;
    bool want_write;
    size_t step;
    int status;            /* what the job will report */
    size_t nrows, ncols, cap;
    char **cells;          /* collected rows */
};

struct pg {
    struct store *s;
    char *url;
    struct conn conns[PG_POOL];
    struct job *head, *tail;
};

static void conn_event(evutil_socket_t fd, short what, void *arg);

static void job_free(struct job *j)
{
    for (size_t i = 0; i < j->n_strs; i++)
        free(j->strs[i]);
    free(j->strs);
    free(j->stmts);
    free(j);
}

static void rows_reset(struct conn *k)
{
    for (size_t i = 0; i < k->nrows * k->ncols; i++)
        free(k->cells[i]);
    free(k->cells);
    k->cells = NULL;
    k->nrows = k->ncols = k->cap = 0;
}

/* Watches the socket for writing only while libpq has unsent bytes (PQflush() == 1). */
static void flush(struct conn *k)
{
    bool more = PQflush(k->c) == 1;
    if (more == k->want_write || k->ev == NULL)
        return;
    k->want_write = more;
    event_del(k->ev);
    event_assign(k->ev, k->pg->s->base, PQsocket(k->c),
                 EV_READ | EV_PERSIST | (more ? EV_WRITE : 0), conn_event, k);
    event_add(k->ev, NULL);
}

/* A simple query (it may hold several statements, each giving a result). */
static int send_simple(struct conn *k, const char *sql)
{
    int rc = PQsendQuery(k->c, sql) == 1 ? 0 : E_IO;
    flush(k);
    return rc;
}

static int send_stmt(struct conn *k, const struct store_stmt *st)
{
    Oid types[STORE_MAX_PARAMS];
    const char *values[STORE_MAX_PARAMS];
    char ints[STORE_MAX_PARAMS][24];
    for (int i = 0; i < st->nparams; i++) {
        const struct store_param *p = &st->params[i];
        if (p->type == SP_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)p->i);
            values[i] = ints[i];
            types[i] = INT8OID;
        } else {
            values[i] = p->type == SP_TEXT ? p->s : NULL;
            types[i] = TEXTOID;
        }
    }
    int rc = PQsendQueryParams(k->c, st->sql, st->nparams, types, values, NULL, NULL, 0) == 1
                 ? 0
                 : E_IO;
    flush(k);
    return rc;
}

/* Maps a failed result to our codes: a unique violation is a conflict, not an I/O error. */
static int result_error(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && strncmp(state, "23", 2) == 0)
        return E_CONFLICT; /* integrity constraint */
    if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        return E_CONFLICT; /* serialization failure, deadlock */
    return E_IO;
}

static void collect(struct conn *k, const PGresult *r)
{
    size_t nr = (size_t)PQntuples(r), nc = (size_t)PQnfields(r);
    if (nr == 0)
        return;
    k->ncols = nc;
    if ((k->nrows + nr) * nc > k->cap) {
        k->cap = (k->nrows + nr) * nc * 2;
        k->cells = xrealloc(k->cells, k->cap * sizeof(char *));
    }
    for (size_t i = 0; i < nr; i++)
        for (size_t c = 0; c < nc; c++)
            k->cells[(k->nrows + i) * nc + c] =
                PQgetisnull(r, (int)i, (int)c) ? NULL : xstrdup(PQgetvalue(r, (int)i, (int)c));
    k->nrows += nr;
}

static void start_next(struct pg *pg);

static void finish_job(struct conn *k)
{
    struct job *j = k->job;
    k->job = NULL;
    k->phase = PH_IDLE;
    struct store_rows out = {k->nrows, k->ncols, (const char *const *)k->cells};
    j->cb(k->status, &out, j->ud);
    rows_reset(k);
    job_free(j);
    start_next(k->pg);
}

/* Sends what comes after a statement's result; 0 or E_IO. */
static int advance(struct conn *k)
{
    struct job *j = k->job;
    if (k->status != 0) {
        k->phase = PH_ROLLBACK;
        return send_simple(k, "ROLLBACK");
    }
    if (k->step < j->n) {
        k->phase = PH_STMT;
        return send_stmt(k, &j->stmts[k->step++]);
    }
    k->phase = PH_COMMIT;
    return send_simple(k, "COMMIT");
}

/* A whole result arrived for the current phase. */
static void on_result(struct conn *k, PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    switch (k->phase) {
    case PH_BEGIN:
        if (!ok) {
            log_error("postgresql: BEGIN: %s", PQresultErrorMessage(r));
            k->status = E_IO;
        }
        break;
    case PH_STMT: {
        const struct store_stmt *s = &k->job->stmts[k->step - 1];
        if (!ok) {
            k->status = result_error(r);
            if (k->status == E_IO)
                log_error("postgresql: %s", PQresultErrorMessage(r));
            break;
        }
        size_t touched = st == PGRES_TUPLES_OK ? (size_t)PQntuples(r)
                                               : (size_t)strtoul(PQcmdTuples(r), NULL, 10);
        if (s->collect)
            collect(k, r);
        if (s->need_rows && touched == 0)
            k->status = s->need_rows;
        break;
    }
    case PH_COMMIT:
        if (!ok)
            k->status = result_error(r);
        break;
    case PH_ROLLBACK:
    case PH_IDLE:
        break;
    }
}

/* Drains every ready result; when the phase's query is complete, moves on. */
static void pump(struct conn *k)
{
    if (PQconsumeInput(k->c) != 1) {
        log_error("postgresql: connection lost: %s", PQerrorMessage(k->c));
        goto broken;
    }
    while (!PQisBusy(k->c)) {
        PGresult *r = PQgetResult(k->c);
        if (r == NULL) { /* the phase's query is done */
            if (k->phase == PH_COMMIT || k->phase == PH_ROLLBACK) {
                finish_job(k);
                return;
            }
            if (k->phase == PH_IDLE)
                return;
            if (advance(k) != 0)
                goto broken;
            continue;
        }
        on_result(k, r);
        PQclear(r);
    }
    return;
broken:
    /* Reconnect (blocking: rare) and fail the job: its outcome is unknown to us only if the
     * COMMIT had been sent, which we report as E_UNKNOWN. */
    if (k->job) {
        k->status = k->phase == PH_COMMIT ? E_UNKNOWN : E_IO;
        struct job *j = k->job;
        k->job = NULL;
        k->phase = PH_IDLE;
        struct store_rows none = {0};
        j->cb(k->status, &none, j->ud);
        rows_reset(k);
        job_free(j);
    }
    event_free(k->ev);
    k->ev = NULL;
    k->want_write = false;
    PQreset(k->c);
    if (PQstatus(k->c) == CONNECTION_OK && PQsetnonblocking(k->c, 1) == 0) {
        k->ev = event_new(k->pg->s->base, PQsocket(k->c), EV_READ | EV_PERSIST, conn_event, k);
        event_add(k->ev, NULL);
    }
    start_next(k->pg);
}

static void conn_event(evutil_socket_t fd, short what, void *arg)
{
    struct conn *k = arg;
    if (what & EV_WRITE)
        flush(k);
    if (what & EV_READ)
        pump(k);
}

static void start_on(struct conn *k, struct job *j)
{
    k->job = j;
    k->step = 0;
    k->status = 0;
    k->phase = PH_BEGIN;
    const char *begin = j->durable ? "BEGIN" : "BEGIN; SET LOCAL synchronous_commit TO OFF";
    if (send_simple(k, begin) != 0) {
        k->job = NULL;
        k->phase = PH_IDLE;
        struct store_rows none = {0};
        j->cb(E_IO, &none, j->ud);
        job_free(j);
        return;
    }
}

static void start_next(struct pg *pg)
{
    while (pg->head) {
        struct conn *k = NULL;
        for (size_t i = 0; i < PG_POOL && !k; i++)
            if (pg->conns[i].ev && pg->conns[i].job == NULL)
                k = &pg->conns[i];
        if (k == NULL)
            return;
        struct job *j = pg->head;
        pg->head = j->next;
        if (pg->head == NULL)
            pg->tail = NULL;
        start_on(k, j);
    }
}

static char *keep(struct job *j, const char *s)
{
    j->strs = xrealloc(j->strs, (j->n_strs + 1) * sizeof(char *));
    return j->strs[j->n_strs++] = xstrdup(s);
}

static void pg_run(struct store *s, const struct store_tx *tx)
{
    struct pg *pg = s->impl;
    struct job *j = xcalloc(1, sizeof(*j));
    j->n = tx->n;
    j->durable = tx->durable;
    j->cb = tx->cb;
    j->ud = tx->ud;
    j->stmts = xcalloc(tx->n ? tx->n : 1, sizeof(*j->stmts));
    for (size_t i = 0; i < tx->n; i++) {
        j->stmts[i] = tx->stmts[i];
        for (int p = 0; p < tx->stmts[i].nparams; p++)
            if (tx->stmts[i].params[p].type == SP_TEXT)
                j->stmts[i].params[p].s = keep(j, tx->stmts[i].params[p].s);
    }
    if (pg->tail)
        pg->tail->next = j;
    else
        pg->head = j;
    pg->tail = j;
    start_next(pg);
}

/* Server notices ("relation already exists, skipping") go to the debug log, not stderr. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgresql: %s", message);
}

/* Opening: blocking libpq calls, before the loop serves. */

static int exec_blocking(PGconn *c, const char *sql, char err[ERR_LEN])
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : E_IO;
    if (rc && err)
        snprintf(err, ERR_LEN, "postgresql: %s", PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

static int migrate(struct store *s, PGconn *c, char err[ERR_LEN])
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK);
    if (exec_blocking(c, sql, err) != 0 ||
        exec_blocking(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                      err) != 0)
        return E_IO;
    PGresult *r = PQexec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    int version = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    int rc = version < 0 ? E_IO : 0;
    for (size_t i = 0; rc == 0 && i < store_pg_n_migrations; i++) {
        const struct store_migration *m = &store_pg_migrations[i];
        if (m->version <= version)
            continue;
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version) VALUES (%d)", m->version);
        rc = exec_blocking(c, "BEGIN", err);
        if (rc == 0)
            rc = exec_blocking(c, m->sql, err);
        if (rc == 0)
            rc = exec_blocking(c, sql, err);
        if (rc == 0)
            rc = exec_blocking(c, "COMMIT", err);
        if (rc != 0) {
            exec_blocking(c, "ROLLBACK", NULL);
            break;
        }
        log_info("database: applied migration %d", m->version);
        version = m->version;
    }
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK);
    exec_blocking(c, sql, NULL);
    s->schema_version = version;
    return rc;
}

static void pg_close(struct store *s)
{
    struct pg *pg = s->impl;
    for (size_t i = 0; i < PG_POOL; i++) {
        struct conn *k = &pg->conns[i];
        if (k->ev)
            event_free(k->ev);
        if (k->job) { /* the process is ending: nothing will answer these */
            job_free(k->job);
            rows_reset(k);
        }
        if (k->c)
            PQfinish(k->c);
    }
    while (pg->head) {
        struct job *j = pg->head;
        pg->head = j->next;
        job_free(j);
    }
    free(pg->url);
    free(pg);
}

static int pg_open(struct store *s, const char *url, char err[ERR_LEN])
{
    struct pg *pg = xcalloc(1, sizeof(*pg));
    pg->s = s;
    pg->url = xstrdup(url);
    s->impl = pg;
    int rc = 0;
    for (size_t i = 0; i < PG_POOL && rc == 0; i++) {
        struct conn *k = &pg->conns[i];
        k->pg = pg;
        k->c = PQconnectdb(url);
        PQsetNoticeProcessor(k->c, on_notice, NULL);
        if (PQstatus(k->c) != CONNECTION_OK) {
            /* libpq's message names host and port, never the password. */
            snprintf(err, ERR_LEN, "cannot connect to PostgreSQL: %s", PQerrorMessage(k->c));
            rc = E_IO;
            break;
        }
        if (i == 0)
            rc = migrate(s, k->c, err);
        if (rc == 0 && PQsetnonblocking(k->c, 1) != 0) {
            snprintf(err, ERR_LEN, "postgresql: cannot go non-blocking");
            rc = E_IO;
        }
        if (rc == 0) {
            k->ev = event_new(s->base, PQsocket(k->c), EV_READ | EV_PERSIST, conn_event, k);
            event_add(k->ev, NULL);
        }
    }
    if (rc != 0) {
        pg_close(s);
        s->impl = NULL;
        /* strip a trailing newline from libpq's message */
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
    }
    return rc;
}

const struct store_backend store_pg_backend = {
    .dialect = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .run = pg_run,
};
