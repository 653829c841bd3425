#!/usr/bin/env bash
# pg-test.sh -- makes a PostgreSQL server answer on 127.0.0.1 for the tests, and prints the URL
# of a database of their own (postgresql://routstr:routstr@127.0.0.1:PORT/routstr_test).
#
# Uses Debian's cluster (pg_ctlcluster) when run as root or as postgres; idempotent: starts the
# cluster if it is down, creates the role and the database if they are missing. Tests read the
# URL from PG_TEST_URL; without it they run on SQLite only.
set -euo pipefail
# Only the URL goes to stdout: everything the PostgreSQL tools say goes to stderr (fd 3 keeps
# stdout; the server must not inherit it, or $(scripts/pg-test.sh) would wait for it to exit).
exec 3>&1 1>&2

ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)
[[ -n $ver ]] || { echo "pg-test.sh: PostgreSQL is not installed" >&2; exit 1; }
if ! pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx main; then
  pg_createcluster "$ver" main >/dev/null 3>&-
fi
port=$(pg_lsclusters -h | awk '$2 == "main" {print $3; exit}')
status=$(pg_lsclusters -h | awk '$2 == "main" {print $4; exit}')
if [[ $status != online* ]]; then
  pg_ctlcluster "$ver" main start 3>&-
  port=$(pg_lsclusters -h | awk '$2 == "main" {print $3; exit}')
fi
as_pg() { if [[ $(id -un) == postgres ]]; then "$@"; else su postgres -c "$(printf '%q ' "$@")"; fi; }
for _ in $(seq 50); do
  as_pg psql -qAtc 'select 1' >/dev/null 2>&1 && break
  sleep 0.2
done
as_pg psql -qAtc "select 1 from pg_roles where rolname = 'routstr'" | grep -q 1 ||
  as_pg psql -qc "create role routstr login password 'routstr'" >/dev/null
as_pg psql -qAtc "select 1 from pg_database where datname = 'routstr_test'" | grep -q 1 ||
  as_pg psql -qc "create database routstr_test owner routstr" >/dev/null
echo "postgresql://routstr:routstr@127.0.0.1:$port/routstr_test" >&3
