#!/usr/bin/env bash
# What a user does, on the local real stack: MariaDB → Canal server → canal-es →
# OpenSearch (STACK_SEARCH=es7 for Elasticsearch 7.17).
#  1. shop.products already holds a few thousand rows before canal-es starts;
#  2. canal-es, configured with [mysql], loads them at its first start (the
#     initial load, docs/reindex.md) while it streams; the demo shows the
#     progress (its "reindex" log lines) and the document count equal to the row count;
#  3. inserts, an update and a delete made afterwards reach the index;
#  4. a search.
# Then it stops everything it started. STACK_DIR chooses the stack's state dir
# (default .stack in the repository); it is taken down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${DEMO_ROWS:-5000}
[[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || { echo "demo: DEMO_ROWS must be a positive integer, not '$ROWS'" >&2; exit 2; }

./scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCANAL_ES_TESTS=OFF -DCANAL_ES_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

canal_version=$(sed -n 's:.*<canal.version>\([^<]*\)</canal.version>.*:\1:p' tests/stack/canal/pom.xml | head -n 1)
echo "== starting the local stack (MariaDB, Canal server ${canal_version:-?}, ${STACK_SEARCH:-opensearch})" >&2
stack_env=$(./scripts/stack.sh up)
CE_PID=""
workdir=$(mktemp -d)
cleanup() {
  if [ -n "$CE_PID" ]; then kill -TERM "$CE_PID" 2>/dev/null && wait "$CE_PID" 2>/dev/null || true; fi
  ./scripts/stack.sh down >&2 || true
  rm -rf "$workdir"
}
trap cleanup EXIT
set -a; eval "$stack_env"; set +a

sqlc() { MYSQL_PWD="$MYSQL_PASSWORD" mariadb --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" \
  --default-character-set=utf8mb4 "$@"; }
es() { curl -sS -H 'Content-Type: application/json' "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
fail() { echo "demo: $1; canal-es log:" >&2; tail -20 "$workdir/canal-es.log" >&2 || true; exit 1; }

node=$(es "$ES_URL/" | json 'v=d["version"]; print(v.get("distribution","elasticsearch").replace("opensearch","OpenSearch").replace("elasticsearch","Elasticsearch"), v["number"])')
echo "== stack: $(sqlc -N -B -e 'SELECT CONCAT("MariaDB ", VERSION())'), Canal server ${canal_version:-?}, $node" >&2

# The table exists with its rows before canal-es is started. They are written with
# sql_log_bin = 0, like rows older than the binlog Canal reads: only the initial load
# can bring them into the index (the stream never sees them).
echo "== shop.products: $ROWS existing rows, before canal-es starts" >&2
sqlc -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop DEFAULT CHARACTER SET utf8mb4;"
sqlc -D shop -e "CREATE TABLE shop.products (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  brand VARCHAR(100) NULL,
  price DECIMAL(10,2) NOT NULL,
  stock INT NOT NULL,
  updated_at DATETIME(3) NOT NULL
);
SET SESSION sql_log_bin = 0;
INSERT INTO shop.products
SELECT seq,
       CONCAT(ELT(1 + seq % 8, 'Phone', 'Laptop', 'Headphones', 'USB-C cable', 'Charger', 'Tablet', 'Monitor',
                  'Keyboard'), ' ', ELT(1 + seq % 4, 'X', 'Mini', 'Pro', 'Air'), ' ', seq),
       IF(seq % 10 = 3, NULL, ELT(1 + seq % 5, 'Acme', 'Globex', 'Initech', 'Hooli', 'Umbrella')),
       9.99 + (seq * 37) % 2000, (seq * 13) % 500, '2025-01-01 00:00:00.000' + INTERVAL seq MINUTE
FROM seq_1_to_$ROWS;"
expected=$(sqlc -N -B -e "SELECT COUNT(*) FROM shop.products")
curl -sS -X DELETE "$ES_URL/products" >/dev/null || true

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$workdir/canal-es.ini" <<INI
[canal]
address = ${CANAL_HOST}:${CANAL_PORT}
destination = ${CANAL_DESTINATION}
username = ${CANAL_USER}
password = \${CANAL_PASSWORD}
client_id = 1001
batch_size = 1000
fetch_timeout_ms = 500

[elasticsearch]
url = ${ES_URL}

; the server whose binlog Canal reads: the existing rows are read from it
[mysql]
host = ${MYSQL_HOST}
port = ${MYSQL_PORT}
user = ${MYSQL_USER}
password = \${MYSQL_PASSWORD}

; a completed initial load is recorded in FILE.reindex and not repeated
[checkpoint]
file = $workdir/checkpoint

[http]
listen = 127.0.0.1:$port

[table shop.products]
index = products
id = id
; snapshot = initial is the default with [mysql]
INI
echo "== canal-es config ($workdir/canal-es.ini):" >&2
sed 's/^/   /' "$workdir/canal-es.ini" >&2

"$ROOT/build/canal-es" run -c "$workdir/canal-es.ini" 2>"$workdir/canal-es.log" &
CE_PID=$!

echo "== initial load: canal-es' \"reindex\" log lines" >&2
deadline=$((SECONDS + 180))
shown=0
while :; do
  kill -0 "$CE_PID" 2>/dev/null || fail "canal-es exited"
  lines=$(grep -F ' reindex ' "$workdir/canal-es.log" || true)
  total=$(printf '%s' "$lines" | grep -c '' || true)
  if [ "$total" -gt "$shown" ]; then
    printf '%s\n' "$lines" | tail -n +"$((shown + 1))" | sed 's/^/   /' >&2
    shown=$total
  fi
  printf '%s' "$lines" | grep -q 'job [0-9]* done: shop.products,' && break
  if printf '%s' "$lines" | grep -q 'job [0-9]* (shop.products) failed\|job [0-9]* cancelled'; then
    fail "the initial load of shop.products did not complete"
  fi
  [ $SECONDS -ge $deadline ] && fail "the initial load did not finish in 180 s"
  sleep 0.3 # poll interval, bounded by the deadline
done
# the same job as GET /reindex on [http] listen shows it (when this canal-es serves that endpoint)
if job=$(curl -sSf "http://127.0.0.1:$port/reindex" 2>/dev/null); then
  printf '%s' "$job" | json '
for j in d.get("jobs", []):
    print("   GET /reindex: job %s %s %s: %s rows, %s chunks" % (j["id"], j["table"], j["state"], j["rows"], j.get("chunks")))' >&2 || true
fi

count() {
  curl -sS -X POST "$ES_URL/products/_refresh" >/dev/null 2>&1 || true
  curl -sS "$ES_URL/products/_count" 2>/dev/null | json 'print(d.get("count", -1))' 2>/dev/null || echo -1
}
n=$(count)
echo
echo "== initial load done: index 'products' holds $n documents, shop.products has $expected rows"
[ "$n" = "$expected" ] || fail "$n documents for $expected rows after the initial load"

echo "== live changes: 3 inserts, 2 updates, 1 delete" >&2
sqlc -e "
INSERT INTO shop.products VALUES
 ($((ROWS + 1)), 'Phone Ultra', 'Acme', 1099.00, 10, NOW(3)),
 ($((ROWS + 2)), '无线耳机 (wireless earbuds)', NULL, 129.00, 80, NOW(3)),
 ($((ROWS + 3)), 'Laptop Pro 16', 'Globex', 2499.99, 5, NOW(3));
UPDATE shop.products SET price = 649.00, stock = stock - 1, updated_at = NOW(3) WHERE id = 1;
UPDATE shop.products SET brand = 'Hooli' WHERE id = $((ROWS + 2));
DELETE FROM shop.products WHERE id = 2;"
expected=$(sqlc -N -B -e "SELECT COUNT(*) FROM shop.products")
deadline=$((SECONDS + 60))
while :; do
  n=$(count)
  [ "$n" = "$expected" ] && ! curl -sS "$ES_URL/products/_doc/2" | grep -q '"found":true' &&
    es "$ES_URL/products/_doc/1" | grep -q '"price":"649.00"' &&
    es "$ES_URL/products/_doc/$((ROWS + 2))" | grep -q '"brand":"Hooli"' && break
  [ $SECONDS -ge $deadline ] && fail "the live changes did not reach the index in 60 s ($n documents, $expected rows)"
  sleep 0.3 # poll interval, bounded by the deadline
done
echo "== live changes indexed: $n documents, $expected rows; product 2 deleted"
echo "== the changed documents:"
es -X POST "$ES_URL/products/_search" -d "{\"query\":{\"ids\":{\"values\":[\"1\",\"2\",\"$((ROWS + 1))\",\"$((ROWS + 2))\",\"$((ROWS + 3))\"]}},\"sort\":[{\"id\":\"asc\"}]}" | json '
for h in d["hits"]["hits"]:
    print("  _id=%s  %s" % (h["_id"], json.dumps(h["_source"], ensure_ascii=False)))'
echo
echo "== search: name matches \"phone\", brand Acme, newest first"
es -X POST "$ES_URL/products/_search" -d '{"size":5,"query":{"bool":{"must":[{"match":{"name":"phone"}}],"filter":[{"term":{"brand.keyword":"Acme"}}]}},"sort":[{"updated_at":"desc"}]}' | json '
t = d["hits"]["total"]
print("  %s hit(s), first 5:" % (t["value"] if isinstance(t, dict) else t))
for h in d["hits"]["hits"]:
    s = h["_source"]
    print("  %-6s %-28s %-8s price=%s stock=%s" % (h["_id"], s["name"], s["brand"], s["price"], s["stock"]))'
echo
echo "== canal-es log (last lines):"
tail -n 6 "$workdir/canal-es.log" | sed 's/^/   /'
