#!/usr/bin/env bash
# Regenerates the committed compile-time query metadata (.sqlx/) after a query or migration changed.
# Starts a throwaway PostgreSQL, applies migrations/, and rebuilds the gateway with the macros online.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d /tmp/sqlx-prepare.XXXXXX)
chmod 0755 "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${as_pg[@]}" pg_ctl -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" initdb -D "$dir/data" -U gateway --auth=trust -E UTF8 --locale=C -N >/dev/null
"${as_pg[@]}" pg_ctl -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
url="postgres://gateway@127.0.0.1:$port/postgres"
for f in migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$url" -f "$f"
done

rm -rf .sqlx && mkdir .sqlx
touch crates/gateway/src/lib.rs
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" DATABASE_URL="$url" cargo check -p smartro-gateway --all-targets
echo "regenerated $(ls .sqlx | wc -l) query files in .sqlx/"
