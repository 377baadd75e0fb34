#!/usr/bin/env bash
# The main job on the local real stack: MariaDB → Canal server → canal-es →
# OpenSearch (STACK_SEARCH=es7 for Elasticsearch 7.17). Creates shop.products,
# runs canal-es, writes inserts/updates/deletes, prints the indexed documents
# and a search, then stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

./scripts/bootstrap.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCANAL_ES_TESTS=OFF -DCANAL_ES_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

echo "== starting the local stack (MariaDB, Canal server 1.1.7, ${STACK_SEARCH:-opensearch})" >&2
stack_env=$(./scripts/stack.sh up)
CE_PID=""
cleanup() {
  [ -n "$CE_PID" ] && kill -TERM "$CE_PID" 2>/dev/null && wait "$CE_PID" 2>/dev/null || true
  ./scripts/stack.sh down >&2 || true
}
trap cleanup EXIT
set -a; eval "$stack_env"; set +a

sqlc() { MYSQL_PWD="$MYSQL_PASSWORD" mariadb --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USER" \
  --default-character-set=utf8mb4 "$@"; }
es() { curl -sS -H 'Content-Type: application/json' "$@"; }

sqlc -e "DROP DATABASE IF EXISTS shop; CREATE DATABASE shop DEFAULT CHARACTER SET utf8mb4;
CREATE TABLE shop.products (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  brand VARCHAR(100) NULL,
  price DECIMAL(10,2) NOT NULL,
  stock INT NOT NULL,
  updated_at DATETIME(3) NOT NULL
);"
curl -sS -X DELETE "$ES_URL/products" >/dev/null || true

workdir=$(mktemp -d)
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

[table shop.products]
index = products
id = id
INI
echo "== canal-es config ($workdir/canal-es.ini):" >&2
sed 's/^/   /' "$workdir/canal-es.ini" >&2

"$ROOT/build/canal-es" run -c "$workdir/canal-es.ini" 2>"$workdir/canal-es.log" &
CE_PID=$!

echo "== writing to MariaDB" >&2
sqlc -e "
INSERT INTO shop.products VALUES
 (1, 'Phone X', 'Acme', 699.00, 10, NOW(3)),
 (2, 'Phone Mini', 'Acme', 399.50, 25, NOW(3)),
 (3, 'Laptop Pro 14', 'Globex', 1899.99, 5, NOW(3)),
 (4, '无线耳机 (wireless earbuds)', NULL, 129.00, 80, NOW(3)),
 (5, 'USB-C cable', 'Initech', 9.99, 500, NOW(3));
UPDATE shop.products SET price = 649.00, stock = stock - 1, updated_at = NOW(3) WHERE id = 1;
UPDATE shop.products SET brand = 'Hooli' WHERE id = 4;
DELETE FROM shop.products WHERE id = 5;"

expected=$(sqlc -N -B -e "SELECT COUNT(*) FROM shop.products")
deadline=$((SECONDS + 60))
while :; do
  curl -sS -X POST "$ES_URL/products/_refresh" >/dev/null 2>&1 || true
  n=$(curl -sS "$ES_URL/products/_count" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("count", -1))' 2>/dev/null || echo -1)
  [ "$n" = "$expected" ] && ! curl -sS "$ES_URL/products/_doc/5" | grep -q '"found":true' && break
  if [ $SECONDS -ge $deadline ]; then
    echo "demo: index did not reach $expected documents in 60 s; canal-es log:" >&2
    tail -20 "$workdir/canal-es.log" >&2
    exit 1
  fi
  sleep 0.3 # poll interval, bounded by the deadline
done

echo
echo "== documents in index 'products' (MariaDB has $expected rows):"
es "$ES_URL/products/_search?sort=id:asc&size=100" | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hits"]["hits"]:
    print("  _id=%s  %s" % (h["_id"], json.dumps(h["_source"], ensure_ascii=False)))'
echo
echo "== search: name matches \"phone\""
es -X POST "$ES_URL/products/_search" -d '{"query":{"bool":{"must":[{"match":{"name":"phone"}}]}}}' | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  %d hit(s)" % r["hits"]["total"]["value"] if isinstance(r["hits"]["total"], dict) else r["hits"]["total"])
for h in r["hits"]["hits"]:
    s = h["_source"]
    print("  %-6s %-20s price=%s stock=%s" % (h["_id"], s["name"], s["price"], s["stock"]))'
echo
echo "== canal-es log:"
sed 's/^/   /' "$workdir/canal-es.log"
