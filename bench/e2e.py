#!/usr/bin/env python3
"""End-to-end throughput on the real local stack: MariaDB → Canal → canal-es → search node.

Usage (stack env loaded, e.g. `set -a; eval "$(scripts/stack.sh up)"; set +a`):
    bench/e2e.py --bin build/canal-es [--rows 200000] [--batch-size 4000]

Writes ROWS rows (product-like, 7 columns) in 10 000-row transactions while canal-es is stopped, then
starts canal-es and measures the time until the index holds every row (polled with _count). Prints
rows/s, wire MB/s of the _bulk bodies (bytes counted by canal-es' index size is not available, so the
NDJSON size is estimated from one document) and canal-es' peak RSS. Then, in the same run, the node's
own ceiling for the same documents: they are read back, turned into _bulk requests of BATCH_SIZE
actions with external versions (as canal-es sends them), and posted one request at a time (canal-es'
default concurrency = 1) into a fresh index with the same settings. Not a test: it asserts nothing
beyond completing.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

import itlib  # noqa: E402
import urllib.request  # noqa: E402

from harness import ENV, CanalEs, http, index_docs, poll, sql  # noqa: E402
from itlib import DB, new_table, product_rows  # noqa: E402


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--batch-size", type=int, default=4000)
    a = ap.parse_args()
    itlib.BIN = a.bin
    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    t = "bench_e2e"
    new_table(t)
    http("PUT", f"/{t}", {"settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "30s"}})
    es = CanalEs(a.bin, {f"{DB}.{t}": {"index": t}}, batch_size=a.batch_size)
    # catch up with whatever is pending first (a marker row, id 0), so the measurement covers only these rows
    es.start()
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(0, 1)};")
    poll(lambda: http("GET", f"/{t}/_doc/0", ok=(200, 404))[0] == 200, 300, "the marker row")
    es.stop()
    t0 = time.monotonic()
    for first in range(1, a.rows + 1, 10000):
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(first, min(10000, a.rows + 1 - first))};")
    write_s = time.monotonic() - t0
    es.start()
    t0 = time.monotonic()

    def count():
        http("POST", f"/{t}/_refresh")
        return http("GET", f"/{t}/_count")[1]["count"]
    poll(lambda: count() >= a.rows + 1, 1800, f"{a.rows} documents", interval=0.5)
    took = time.monotonic() - t0
    rss = peak_rss_mb(es.proc.pid)
    with open(f"/proc/{es.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    _, one = http("GET", f"/{t}/_doc/1")
    doc_bytes = len(json.dumps(one["_source"], ensure_ascii=False).encode()) + 90  # + action line
    es.stop()
    print(f"e2e: {a.rows} rows written in {write_s:.1f} s; indexed in {took:.1f} s = {a.rows / took:,.0f} rows/s, "
          f"~{a.rows * doc_bytes / took / 1e6:.1f} MB/s of NDJSON; canal-es peak RSS {rss:.1f} MB "
          f"(batch_size {a.batch_size}); canal-es CPU {cpu_s:.1f} s ({100 * cpu_s / took:.0f}% of one core)")
    docs = index_docs(t)
    http("DELETE", f"/{t}", ok=(200, 404))
    ceiling = node_ceiling(t + "_ceiling", docs, a.batch_size)
    print(f"node ceiling: the same {len(docs)} documents posted directly in requests of {a.batch_size}, one in flight: "
          f"{ceiling:,.0f} docs/s; canal-es reached {a.rows / took / ceiling:.2f} of it")


def node_ceiling(index, docs, per_request):
    """docs/s of the node for pre-built _bulk bodies, one request in flight."""
    http("PUT", f"/{index}", {"settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "30s"}})
    ids = sorted(docs)
    bodies = []
    for i in range(0, len(ids), per_request):
        lines = []
        for k in ids[i:i + per_request]:
            lines.append(json.dumps({"index": {"_index": index, "_id": k, "version": 1000 + i,
                                               "version_type": "external"}}))
            lines.append(json.dumps(docs[k], ensure_ascii=False))
        bodies.append(("\n".join(lines) + "\n").encode())
    t0 = time.monotonic()
    for b in bodies:
        req = urllib.request.Request(ENV["ES_URL"].rstrip("/") + "/_bulk?filter_path=errors", data=b, method="POST",
                                     headers={"Content-Type": "application/x-ndjson"})
        with urllib.request.urlopen(req, timeout=300) as r:
            if json.loads(r.read()).get("errors"):
                raise SystemExit("node ceiling: the node rejected documents")
    took = time.monotonic() - t0
    http("DELETE", f"/{index}", ok=(200, 404))
    return len(ids) / took


if __name__ == "__main__":
    main()
