/* store_sqlite.c -- the SQLite backend: one connection, on the loop thread.
 *
 * WAL mode with synchronous=NORMAL: a crashed process loses nothing, and reserve/settle commit
 * without an fsync. A durable transaction (money received, wallet proofs changed) switches to
 * synchronous=FULL for its commit. Statements, the transaction's own (BEGIN, COMMIT...)
 * included, are prepared once and cached by the address of their static SQL text, so a request's
 * transactions parse no SQL. A lone read runs without BEGIN/COMMIT (one statement is atomic). A
 * busy database (another process holding the write lock) is waited on for up to 5 s. */
#include "store/store_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/log.h"
#include "base/xalloc.h"

/* Open addressing on the text's address; more slots than the store has statements. */
#define STMT_SLOTS 512

struct cached {
    const char *sql; /* the static SQL text is the key */
    sqlite3_stmt *stmt;
};

struct sq {
    sqlite3 *db;
    struct cached cache[STMT_SLOTS];
    size_t ncache;
};

/* "$1" placeholders become SQLite's "?1". */
static char *translate(const char *sql)
{
    char *out = xstrdup(sql);
    for (char *p = out; *p; p++)
        if (*p == '$' && p[1] >= '0' && p[1] <= '9')
            *p = '?';
    return out;
}

static struct cached *slot(struct sq *q, const char *sql)
{
    size_t i = ((uintptr_t)sql >> 3) * 0x9E3779B97F4A7C15ull % STMT_SLOTS;
    while (q->cache[i].sql && q->cache[i].sql != sql)
        i = (i + 1) % STMT_SLOTS;
    return &q->cache[i];
}

static sqlite3_stmt *prepare(struct sq *q, const char *sql)
{
    struct cached *c = slot(q, sql);
    if (c->sql)
        return c->stmt;
    char *text = translate(sql);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(q->db, text, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    free(text);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot prepare: %s", sqlite3_errmsg(q->db));
        return NULL;
    }
    if (q->ncache < STMT_SLOTS / 2) { /* half full at most: probes stay short */
        *c = (struct cached){sql, st};
        q->ncache++;
    }
    return st;
}

static void finish_stmt(struct sq *q, sqlite3_stmt *st, const char *sql)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (slot(q, sql)->stmt != st)
        sqlite3_finalize(st); /* not cached (cache full) */
}

/* Runs one statement that takes no parameter and returns nothing worth keeping. */
static int exec_simple(struct sq *q, const char *sql)
{
    sqlite3_stmt *st = prepare(q, sql);
    if (st == NULL)
        return E_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        log_error("sqlite: %s: %s", sql, sqlite3_errmsg(q->db));
    finish_stmt(q, st, sql);
    return rc == SQLITE_DONE ? E_OK : E_IO;
}

/* Collected rows, copied out of SQLite so they outlive the statement. */
struct rowset {
    size_t nrows, ncols, cap;
    char **cells;
};

static void rowset_free(struct rowset *r)
{
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cells[i]);
    free(r->cells);
}

static int step_stmt(struct sq *q, const struct store_stmt *s, struct rowset *rows)
{
    sqlite3_stmt *st = prepare(q, s->sql);
    if (st == NULL)
        return E_IO;
    for (int i = 0; i < s->nparams; i++) {
        const struct store_param *p = &s->params[i];
        if (p->type == SP_INT)
            sqlite3_bind_int64(st, i + 1, p->i);
        else if (p->type == SP_TEXT)
            sqlite3_bind_text(st, i + 1, p->s, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, i + 1);
    }
    int rc, nrows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        nrows++;
        if (!s->collect)
            continue;
        size_t nc = (size_t)sqlite3_column_count(st);
        rows->ncols = nc;
        if ((rows->nrows + 1) * nc > rows->cap) {
            rows->cap = rows->cap ? rows->cap * 2 : 16 * nc;
            rows->cells = xrealloc(rows->cells, rows->cap * sizeof(char *));
        }
        for (size_t c = 0; c < nc; c++) {
            const unsigned char *v = sqlite3_column_text(st, (int)c);
            rows->cells[rows->nrows * nc + c] = v ? xstrdup((const char *)v) : NULL;
        }
        rows->nrows++;
    }
    /* Rows touched: rows returned for a query; for a write, its RETURNING rows or changes()
     * (changes() is left over from the last write, so it says nothing about a SELECT). */
    int touched = sqlite3_stmt_readonly(st) ? nrows : nrows ? nrows : sqlite3_changes(q->db);
    finish_stmt(q, st, s->sql);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT)
            return E_CONFLICT;
        log_error("sqlite: %s", sqlite3_errmsg(q->db));
        return rc == SQLITE_BUSY ? E_TIMEOUT : E_IO;
    }
    if (s->need_rows && touched == 0)
        return s->need_rows;
    return E_OK;
}

static void sq_run(struct store *s, const struct store_tx *tx)
{
    struct sq *q = s->impl;
    struct rowset rows = {0};
    int rc = E_OK;
    if (tx->n == 1 && !tx->durable) { /* a lone read needs no transaction of its own */
        sqlite3_stmt *st = prepare(q, tx->stmts[0].sql);
        bool read = st && sqlite3_stmt_readonly(st);
        if (st)
            finish_stmt(q, st, tx->stmts[0].sql);
        if (read) {
            rc = step_stmt(q, &tx->stmts[0], &rows);
            goto done;
        }
    }
    if (tx->durable)
        rc = exec_simple(q, "PRAGMA synchronous = FULL");
    if (rc == E_OK)
        rc = exec_simple(q, "BEGIN IMMEDIATE");
    if (rc == E_OK) {
        for (size_t i = 0; i < tx->n && rc == E_OK; i++)
            rc = step_stmt(q, &tx->stmts[i], &rows);
        if (rc == E_OK)
            rc = exec_simple(q, "COMMIT");
        if (rc != E_OK)
            exec_simple(q, "ROLLBACK");
    }
    if (tx->durable)
        exec_simple(q, "PRAGMA synchronous = NORMAL");
done:;
    struct store_rows out = {rows.nrows, rows.ncols, (const char *const *)rows.cells};
    tx->cb(rc, &out, tx->ud);
    rowset_free(&rows);
}

static int migrate(struct store *s, struct sq *q, char err[ERR_LEN])
{
    if (exec_simple(q, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") !=
        E_OK) {
        snprintf(err, ERR_LEN, "cannot create schema_version: %s", sqlite3_errmsg(q->db));
        return E_IO;
    }
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(q->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < store_sqlite_n_migrations; i++) {
        const struct store_migration *m = &store_sqlite_migrations[i];
        if (m->version <= version)
            continue;
        char *msg = NULL;
        char bump[96];
        snprintf(bump, sizeof(bump), "INSERT INTO schema_version (version) VALUES (%d)",
                 m->version);
        int rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(q->db, m->sql, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(q->db, bump, NULL, NULL, &msg);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            snprintf(err, ERR_LEN, "migration %d failed: %s", m->version, msg ? msg : "?");
            sqlite3_free(msg);
            sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
            return E_IO;
        }
        log_info("database: applied migration %d", m->version);
        version = m->version;
    }
    s->schema_version = version;
    return E_OK;
}

/* Finalizes the cached statements, then closes: SQLite keeps a connection with live
 * statements open. */
static void sq_free(struct sq *q)
{
    for (size_t i = 0; i < STMT_SLOTS; i++)
        if (q->cache[i].sql)
            sqlite3_finalize(q->cache[i].stmt);
    sqlite3_close(q->db);
    free(q);
}

static int sq_open(struct store *s, const char *url, char err[ERR_LEN])
{
    const char *path = url + strlen("sqlite:///");
    struct sq *q = xcalloc(1, sizeof(*q));
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                          SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, ERR_LEN, "cannot open SQLite database %s: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sqlite3_close(q->db);
        free(q);
        return E_IO;
    }
    sqlite3_busy_timeout(q->db, 5000);
    int rc = exec_simple(q, "PRAGMA journal_mode = WAL");
    if (rc == E_OK)
        rc = exec_simple(q, "PRAGMA synchronous = NORMAL");
    if (rc == E_OK)
        rc = exec_simple(q, "PRAGMA foreign_keys = ON");
    if (rc == E_OK)
        rc = migrate(s, q, err);
    else
        snprintf(err, ERR_LEN, "cannot set up SQLite database %s", path);
    if (rc != E_OK) {
        sq_free(q);
        return rc;
    }
    s->impl = q;
    return E_OK;
}

static void sq_close(struct store *s)
{
    sq_free(s->impl);
}

const struct store_backend store_sqlite_backend = {
    .dialect = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .run = sq_run,
};
