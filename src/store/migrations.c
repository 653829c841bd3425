/* migrations.c -- the schema's migrations, numbered, applied in order at start.
 *
 * A migration is never edited once released: a change is a new, higher number. Each dialect has
 * its own list (store_sqlite_migrations, store_pg_migrations); while SQLite and PostgreSQL
 * accept the same text, both lists point at the one below, so the two cannot drift apart by
 * accident. A migration that needs dialect-specific SQL gets a text of its own in one list. */
#include "store/store_int.h"

/* 1: the wallet. */
static const char m1_wallet[] =
    /* Secrets at rest, encrypted by the caller (wallet seed, node key, admin hash). */
    "CREATE TABLE secrets ("
    "  name TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    /* Keysets of the trusted mints (NUT-01/02). */
    "CREATE TABLE keysets ("
    "  id TEXT PRIMARY KEY,"
    "  mint_url TEXT NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  active INTEGER NOT NULL,"
    "  input_fee_ppk BIGINT NOT NULL,"
    "  keys_json TEXT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE INDEX keysets_mint ON keysets (mint_url);"
    /* NUT-13: the next unused counter of each keyset. */
    "CREATE TABLE keyset_counters ("
    "  keyset_id TEXT PRIMARY KEY,"
    "  next_counter BIGINT NOT NULL);"
    /* Every swap, send or melt, saved before the mint sees it. */
    "CREATE TABLE wallet_ops ("
    "  id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  mint_url TEXT NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  amount BIGINT NOT NULL,"
    "  fee BIGINT NOT NULL,"
    "  ref TEXT,"
    "  state TEXT NOT NULL,"
    "  result TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE INDEX wallet_ops_state ON wallet_ops (state, created_at);"
    "CREATE INDEX wallet_ops_ref ON wallet_ops (ref);"
    "CREATE TABLE wallet_outputs ("
    "  op_id TEXT NOT NULL REFERENCES wallet_ops (id),"
    "  idx INTEGER NOT NULL,"
    "  keyset_id TEXT NOT NULL,"
    "  counter BIGINT NOT NULL,"
    "  amount BIGINT NOT NULL,"
    "  b_ TEXT NOT NULL,"
    "  PRIMARY KEY (op_id, idx));"
    /* Proofs we hold: unspent, pending (an op is spending them) or spent. */
    "CREATE TABLE proofs ("
    "  y TEXT PRIMARY KEY,"
    "  mint_url TEXT NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  keyset_id TEXT NOT NULL,"
    "  amount BIGINT NOT NULL,"
    "  secret TEXT NOT NULL,"
    "  c TEXT NOT NULL,"
    "  dleq TEXT,"
    "  state TEXT NOT NULL,"
    "  op_id TEXT,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX proofs_mint_state ON proofs (mint_url, unit, state);"
    "CREATE INDEX proofs_op ON proofs (op_id);";

/* 2: the ledger. */
static const char m2_ledger[] =
    /* API keys: only the SHA-256 of the key's part after "sk-" is stored. */
    "CREATE TABLE api_keys ("
    "  key_hash TEXT PRIMARY KEY,"
    "  balance_msat BIGINT NOT NULL DEFAULT 0,"
    "  reserved_msat BIGINT NOT NULL DEFAULT 0,"
    "  total_spent_msat BIGINT NOT NULL DEFAULT 0,"
    "  total_requests BIGINT NOT NULL DEFAULT 0,"
    "  refund_address TEXT,"
    "  key_expiry_time BIGINT,"
    "  created_at BIGINT NOT NULL,"
    "  last_used_at BIGINT);"
    /* Every balance change, signed (+ credit, - debit), written with the change itself:
     * balance = sum(amount_msat) of the key's rows, which 'routstr audit' checks. */
    "CREATE TABLE ledger ("
    "  id TEXT PRIMARY KEY,"
    "  key_hash TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  amount_msat BIGINT NOT NULL,"
    "  request_id TEXT,"
    "  ref TEXT,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX ledger_key ON ledger (key_hash, created_at);"
    /* One row per paid request: its reservation and how it ended (exactly once). */
    "CREATE TABLE reservations ("
    "  id TEXT PRIMARY KEY,"
    "  key_hash TEXT NOT NULL,"
    "  reserved_msat BIGINT NOT NULL,"
    "  cost_msat BIGINT,"
    "  status TEXT NOT NULL,"
    "  model TEXT,"
    "  path TEXT,"
    "  instance TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  settled_at BIGINT);"
    "CREATE INDEX reservations_status ON reservations (status, created_at);"
    "CREATE INDEX reservations_key ON reservations (key_hash, status);"
    /* A token redeemed into a key, claimed before the mint is asked: one credit per token. */
    "CREATE TABLE redemptions ("
    "  token_hash TEXT PRIMARY KEY,"
    "  key_hash TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE TABLE refunds ("
    "  id TEXT PRIMARY KEY,"
    "  key_hash TEXT NOT NULL,"
    "  amount_msat BIGINT NOT NULL,"
    "  amount BIGINT NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  token TEXT,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX refunds_key ON refunds (key_hash, created_at);"
    /* Processes sharing the database, and when each was last alive (stale sweeps). */
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"
    "  last_seen BIGINT NOT NULL);"
    /* A receive may credit a key in the same transaction that stores its proofs. */
    "ALTER TABLE wallet_ops ADD COLUMN credit_key TEXT;"
    "ALTER TABLE wallet_ops ADD COLUMN credit_msat BIGINT;";

/* 3: a refund remembers the key as it left it, so a retry returns the same token only while
 * nothing has changed since. */
static const char m3_refund_state[] =
    "ALTER TABLE refunds ADD COLUMN balance_after_msat BIGINT;"
    "ALTER TABLE refunds ADD COLUMN spent_msat BIGINT;";

/* 4: the admin dashboard (docs/admin-api.md). Settings changed there win over the environment;
 * 'settings_version' counts the changes, so other processes on one database notice them. USD
 * prices are kept as decimal text (the store binds integers and text only). The operator's
 * account is the ledger's rows with key_hash 'owner' (withdrawals, payout fees, the wallet's
 * own receives and melts) plus every charge; a send marked account 'owner' is a withdrawal. */
static const char m4_admin[] =
    "CREATE TABLE settings ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE TABLE model_overrides ("
    "  id TEXT PRIMARY KEY,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  prompt_usd TEXT,"
    "  completion_usd TEXT,"
    "  request_usd TEXT,"
    "  updated_at BIGINT NOT NULL);"
    /* Only the SHA-256 of a session token is stored. */
    "CREATE TABLE admin_sessions ("
    "  token_hash TEXT PRIMARY KEY,"
    "  expires_at BIGINT NOT NULL,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);"
    "ALTER TABLE wallet_ops ADD COLUMN account TEXT;"
    "CREATE INDEX ledger_kind ON ledger (kind, created_at);";

/* The sweep's search for payouts and redemptions a crash left half done (store_orphans_settle):
 * only the few rows still pending are indexed. */
static const char m5_orphans[] =
    "CREATE INDEX refunds_pending ON refunds (created_at) WHERE state = 'pending';"
    "CREATE INDEX redemptions_pending ON redemptions (created_at) WHERE state = 'pending';";

const struct store_migration store_sqlite_migrations[] = {
    {1, m1_wallet},
    {2, m2_ledger},
    {3, m3_refund_state},
    {4, m4_admin},
    {5, m5_orphans},
};
const size_t store_sqlite_n_migrations =
    sizeof(store_sqlite_migrations) / sizeof(store_sqlite_migrations[0]);

const struct store_migration store_pg_migrations[] = {
    {1, m1_wallet},
    {2, m2_ledger},
    {3, m3_refund_state},
    {4, m4_admin},
    {5, m5_orphans},
};
const size_t store_pg_n_migrations = sizeof(store_pg_migrations) / sizeof(store_pg_migrations[0]);
