/* store_fixture.h -- what the store tests share: a fresh database per test (a temp SQLite file,
 * or the wiped PostgreSQL database of PG_TEST_URL), and callbacks that capture rows.
 * Included by one test file each (static functions). */
#ifndef ROUTSTR_TESTS_STORE_FIXTURE_H
#define ROUTSTR_TESTS_STORE_FIXTURE_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <time.h>

#include "store/store.h"

struct got {
    int status;
    bool called;
    size_t nrows;
    char cells[16][8][130];
};

static void on_rows(int status, const struct store_rows *rows, void *ud)
{
    struct got *g = ud;
    g->called = true;
    g->status = status;
    g->nrows = rows ? rows->nrows : 0;
    for (size_t r = 0; rows && r < rows->nrows && r < 16; r++)
        for (size_t c = 0; c < rows->ncols && c < 8; c++) {
            const char *v = store_cell(rows, r, c);
            snprintf(g->cells[r][c], 130, "%s", v ? v : "(null)");
        }
}

static void on_done(int status, void *ud)
{
    on_rows(status, NULL, ud);
}

struct fx {
    char dir[64];
    char url[128];
    struct event_base *base;
    struct store *s;
};

/* Waits for the callback: the SQLite backend calls back at once, a PostgreSQL one later. */
static void wait_for(struct fx *f, struct got *g)
{
    while (!g->called)
        event_base_loop(f->base, EVLOOP_ONCE);
}

/* The backend under test: SQLite always; PostgreSQL when PG_TEST_URL names a database the tests
 * may wipe (scripts/pg-test.sh makes one). */
static const char *pg_url;
static bool on_pg;

static void wipe_pg(void)
{
    PGconn *c = PQconnectdb(pg_url);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SET client_min_messages TO warning; "
                            "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/routstr-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    if (on_pg) {
        wipe_pg();
        snprintf(f->url, sizeof(f->url), "%s", pg_url);
    } else {
        snprintf(f->url, sizeof(f->url), "sqlite:///%s/t.db", f->dir);
    }
    f->base = event_base_new();
    char err[ERR_LEN];
    assert_int_equal(store_open(&f->s, f->base, f->url, err), E_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->s);
    event_base_free(f->base);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static inline int64_t store_fixture_now(void)
{
    return (int64_t)time(NULL);
}

/* Runs raw SQL on the test database, behind the store's back (to corrupt it on purpose). */
static inline void store_fixture_exec(struct fx *f, const char *sql)
{
    if (on_pg) {
        PGconn *c = PQconnectdb(pg_url);
        PGresult *r = PQexec(c, sql);
        assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
        PQclear(r);
        PQfinish(c);
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/t.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(cmd, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Runs 'tests' on SQLite, then again on PostgreSQL when PG_TEST_URL is set. */
#define STORE_RUN_BOTH(tests)                                                                 \
    ({                                                                                      \
        pg_url = getenv("PG_TEST_URL");                                                     \
        int failed_ = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);              \
        if (pg_url && *pg_url) {                                                            \
            on_pg = true;                                                                   \
            failed_ += cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);         \
        }                                                                                   \
        failed_;                                                                            \
    })

#endif
