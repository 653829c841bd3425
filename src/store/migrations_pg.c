/* migrations_pg.c -- the PostgreSQL schema, as numbered migrations applied in order at start.
 *
 * A migration is never edited once released: a change is a new, higher number. The applied
 * number is kept in schema_version. This set mirrors the SQLite one, in PostgreSQL's types. */
#include "store/store_int.h"

const struct store_migration store_pg_migrations[] = {
    {1,
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
     "CREATE INDEX proofs_op ON proofs (op_id);"},
};

const size_t store_pg_n_migrations =
    sizeof(store_pg_migrations) / sizeof(store_pg_migrations[0]);
