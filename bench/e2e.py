#!/usr/bin/env python3
"""End-to-end throughput on the real local stack: MariaDB → Canal → canal-es → search node, side by side
with the two ceilings canal-es sits between, measured in one run on the same machine state.

Usage (stack env loaded, e.g. `set -a; eval "$(scripts/stack.sh env)"; set +a`):
    bench/e2e.py --bin build/canal-es [--rows 100000] [--concurrency N]
                 [--config-extra section.key=value]... [--rounds K] [--ceiling-runs 3]
                 [--null-bin build/bench-canal-null]

canal-es runs with its DEFAULT configuration: the INI holds only the connection keys and the table rule,
plus [elasticsearch] concurrency when --concurrency is given and each --config-extra key (unknown keys
are refused by canal-es: pass only what the binary knows). Three measurements, one after another, each
on rows written while no client is connected to the Canal destination (a destination serves one client;
every client here subscribes without a filter, so Canal keeps the stack's):

  0. drain: canal-es catches up with whatever the destination still holds (a marker row, id 0);
  (c) null consumer: ROWS product rows (7 columns, 10 000-row transactions) into table bench_null, then
      bench-canal-null (bench/canal_null.c: GET + ack with the project's Canal client, decode_next only
      to count rows) until it saw ROWS rows: Canal's own delivery rate for those rows;
  (a) canal-es: ROWS rows into table bench_e2e, then canal-es is started; the time runs from its start
      until the index holds every row (a realtime GET of the last id, then _refresh + _count). Prints
      rows/s, canal-es' CPU (utime+stime from /proc/PID/stat over its whole life) per row, its peak RSS
      (VmHWM), and from its own counters the _bulk requests it sent and actions per request;
  (b) node ceiling: the documents canal-es wrote are read back, turned into _bulk bodies with external
      versions (action line as canal-es writes it, compact JSON) of canal-es' mean actions per request,
      and posted directly with CONCURRENCY requests in flight (one kept-alive connection each) into a
      fresh index with the same settings and mapping; CEILING_RUNS times, the median counts (the node
      shares the machine with everything else).
Then the ratios canal-es / ceiling and canal-es / Canal. The rates of (a) and (c) both include the
process start and the connect. --rounds K repeats the three on fresh tables and ends with the medians.
The issue's goals (defaults): canal-es >= 0.9 x the node ceiling, CPU <=
3 us per row, peak RSS <= 32 MB. Not a test: it asserts nothing beyond completing.
"""
import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.client import HTTPConnection

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
import itlib  # noqa: E402
from harness import ENV, http, index_docs, poll, sql  # noqa: E402
from itlib import DB, new_table, product_rows  # noqa: E402

SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "30s"}


def write_rows(t, rows):
    t0 = time.monotonic()
    for first in range(1, rows + 1, 10000):
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(first, min(10000, rows + 1 - first))};")
    return time.monotonic() - t0


def node_conn():
    host, port = ENV["ES_URL"].rstrip("/").split("//", 1)[1].rsplit(":", 1)
    return HTTPConnection(host, int(port), timeout=300)


def run_null(a, rows):
    """(c): bench-canal-null over the rows just written; rows/s from its start to its exit."""
    cmd = [a.null_bin, "--address", f"{ENV['CANAL_HOST']}:{ENV['CANAL_PORT']}",
           "--destination", ENV["CANAL_DESTINATION"], "--username", ENV["CANAL_USER"],
           "--password-env", "CANAL_PASSWORD", "--rows", str(rows), "--timeout-s", "1800"]
    bs = benchlib.extra_value(a.extra, "canal", "batch_size")
    if bs:
        cmd += ["--batch-size", bs]
    ft = benchlib.extra_value(a.extra, "canal", "fetch_timeout_ms")
    if ft:
        cmd += ["--fetch-timeout-ms", ft]
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1900)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"bench-canal-null failed ({p.returncode}): {p.stderr.strip()}")
    return rows / took, took, p.stdout.strip()


def run_canal_es(a, t, rows):
    """(a): canal-es from its start until the index holds rows + 1 documents (the marker too)."""
    es = benchlib.default_canal_es(a.bin, {f"{DB}.{t}": {"index": t}}, a.concurrency, a.extra)
    conn = node_conn()

    def last_doc():
        conn.request("GET", f"/{t}/_doc/{rows}?_source=false")
        r = conn.getresponse()
        r.read()
        return r.status == 200

    def count():
        http("POST", f"/{t}/_refresh")
        return http("GET", f"/{t}/_count")[1]["count"] >= rows + 1

    t0 = time.monotonic()
    es.start()
    metrics = {}
    try:
        poll(last_doc, 1800, f"document {rows}", interval=0.005)
        took = time.monotonic() - t0
        if not count():  # concurrency > 1: another stream's part of the last flush may still be on its way
            poll(count, 600, f"{rows} documents", interval=0.02)
            took = time.monotonic() - t0
        cpu_s = benchlib.cpu_seconds(es.proc.pid)
        rss = benchlib.peak_rss_mb(es.proc.pid)
        if a.metrics_port:
            with urllib.request.urlopen(f"http://127.0.0.1:{a.metrics_port}/metrics", timeout=10) as m:
                for line in m.read().decode().splitlines():
                    if line.startswith("canal_es_bulk_request_duration_seconds_"):
                        name, value = line.rsplit(" ", 1)
                        metrics[name] = float(value)
    finally:
        rc = es.stop()
    if rc != 0:
        raise SystemExit(f"canal-es exited with {rc}:\n{es.tail()}")
    st = benchlib.last_stats(es.log_text())
    return {"rate": rows / took, "took": took, "cpu_s": cpu_s, "rss": rss, "stats": st, "metrics": metrics}


def node_ceiling(index, docs, per_request, inflight, like):
    """(b): docs/s of the node for pre-built _bulk bodies of per_request actions, inflight requests in
    flight, into a fresh index with the settings and mapping of index `like`."""
    _, m = http("GET", f"/{like}/_mapping")
    http("DELETE", f"/{index}", ok=(200, 404))
    http("PUT", f"/{index}", {"settings": SETTINGS, "mappings": m[like]["mappings"]})
    ids = sorted(docs, key=lambda k: (len(k), k))
    bodies = queue.Queue()
    nbytes = 0
    for i in range(0, len(ids), per_request):
        lines = []
        for j, k in enumerate(ids[i:i + per_request]):
            # canal-es' action line: _index, _id, version (from the binlog position), version_type
            lines.append(json.dumps({"index": {"_index": index, "_id": k, "version": (1 << 32) + 4 + 64 * (i + j),
                                               "version_type": "external"}}, separators=(",", ":")))
            lines.append(json.dumps(docs[k], ensure_ascii=False, separators=(",", ":")))
        b = ("\n".join(lines) + "\n").encode()
        nbytes += len(b)
        bodies.put(b)
    errors = []

    def worker():
        conn = node_conn()
        while not errors:
            try:
                b = bodies.get_nowait()
            except queue.Empty:
                return
            conn.request("POST", "/_bulk?filter_path=errors", b, {"Content-Type": "application/x-ndjson"})
            r = conn.getresponse()
            text = r.read()
            if r.status != 200 or json.loads(text).get("errors"):
                errors.append(f"HTTP {r.status}: {text[:300]!r}")
    threads = [threading.Thread(target=worker) for _ in range(inflight)]
    t0 = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.monotonic() - t0
    http("DELETE", f"/{index}", ok=(200, 404))
    if errors:
        raise SystemExit(f"node ceiling: the node refused documents: {errors[0]}")
    return len(ids) / took, nbytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--concurrency", type=int, default=None,
                    help="[elasticsearch] concurrency of canal-es and the requests in flight of the ceiling "
                         "(default: canal-es' default, 1)")
    ap.add_argument("--config-extra", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="one more key of canal-es' INI (repeatable), e.g. canal.batch_size=4000")
    ap.add_argument("--batch-size", type=int, default=None, help="same as --config-extra canal.batch_size=N")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the three measurements (fresh tables each)")
    ap.add_argument("--ceiling-runs", type=int, default=3, help="runs of the node ceiling per round (median)")
    ap.add_argument("--metrics", action="store_true",
                    help="also set [http] listen and read canal-es' _bulk request time from /metrics (not a default)")
    ap.add_argument("--null-bin", default=None, help="bench-canal-null (default: next to --bin)")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    itlib.BIN = a.bin
    if a.batch_size is not None:
        a.config_extra.append(f"canal.batch_size={a.batch_size}")
    a.extra = benchlib.parse_extra(a.config_extra)
    if a.concurrency is not None and benchlib.extra_value(a.extra, "elasticsearch", "concurrency"):
        raise SystemExit("give --concurrency or --config-extra elasticsearch.concurrency=N, not both")
    inflight = a.concurrency or int(benchlib.extra_value(a.extra, "elasticsearch", "concurrency") or 1)
    a.null_bin = a.null_bin or os.path.join(os.path.dirname(a.bin), "bench-canal-null")
    if not os.access(a.null_bin, os.X_OK):
        raise SystemExit(f"{a.null_bin}: not found (build with -DCANAL_ES_BENCH=ON, or give --null-bin)")
    a.metrics_port = None
    if a.metrics:
        with socket.socket() as sk:
            sk.bind(("127.0.0.1", 0))
            a.metrics_port = sk.getsockname()[1]
        a.config_extra.append(f"http.listen=127.0.0.1:{a.metrics_port}")
        a.extra = benchlib.parse_extra(a.config_extra)
    setting = f"concurrency {inflight}" + "".join(f", {x}" for x in a.config_extra)

    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    results = []
    for k in range(1, a.rounds + 1):
        if a.rounds > 1:
            print(f"--- round {k} of {a.rounds}", flush=True)
        results.append(one_round(a, k, inflight, setting))
    if a.rounds > 1:
        med = {key: statistics.median(r[key] for r in results) for key in results[0]}
        print(f"median of {a.rounds} rounds ({setting}): canal-es {med['es']:,.0f} rows/s, node ceiling "
              f"{med['ceiling']:,.0f} docs/s, Canal {med['null']:,.0f} rows/s; canal-es / ceiling "
              f"{med['es_ceiling']:.2f}, canal-es / Canal {med['es_null']:.2f}; CPU {med['us_row']:.1f} us/row; "
              f"peak RSS {med['rss']:.1f} MB")


def one_round(a, k, inflight, setting):
    sfx = "" if k == 1 else f"_{k}"
    t, tn = "bench_e2e" + sfx, "bench_null" + sfx
    new_table(t)
    new_table(tn)
    http("PUT", f"/{t}", {"settings": SETTINGS})

    # 0. drain: canal-es catches up with what the destination still holds (the marker row, id 0)
    es = benchlib.default_canal_es(a.bin, {f"{DB}.{t}": {"index": t}}, a.concurrency, a.extra).start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(0, 1)};")
        poll(lambda: http("GET", f"/{t}/_doc/0", ok=(200, 404))[0] == 200, 300, "the marker row")
    finally:
        es.stop()

    # (c) the null consumer on its own table's rows
    w_null = write_rows(tn, a.rows)
    null_rate, null_took, null_line = run_null(a, a.rows)
    print(f"(c) Canal null consumer: {a.rows} rows written in {w_null:.1f} s; read in {null_took:.2f} s = "
          f"{null_rate:,.0f} rows/s\n    {null_line}", flush=True)

    # (a) canal-es on another table with the same rows
    w_es = write_rows(t, a.rows)
    r = run_canal_es(a, t, a.rows)
    st = r["stats"]
    reqs = int(st.get("bulk_requests", 0))
    actions = int(st.get("actions", 0))
    per_req = max(1, round(actions / reqs)) if reqs else 10000
    us_row = r["cpu_s"] / a.rows * 1e6
    print(f"(a) canal-es ({setting}): {a.rows} rows written in {w_es:.1f} s; indexed in {r['took']:.2f} s = "
          f"{r['rate']:,.0f} rows/s; CPU {r['cpu_s']:.2f} s = {us_row:.1f} us/row "
          f"({100 * r['cpu_s'] / r['took']:.0f}% of one core); peak RSS {r['rss']:.1f} MB; "
          f"{reqs} _bulk requests, {actions / reqs if reqs else 0:,.0f} actions each, "
          f"{int(st.get('batches', 0))} Canal batches", flush=True)
    m = r["metrics"]
    if m:
        busy = m.get("canal_es_bulk_request_duration_seconds_sum", 0.0)
        n = m.get("canal_es_bulk_request_duration_seconds_count", 0.0)
        print(f"    canal-es' own metrics: {busy:.2f} s in {n:.0f} _bulk requests (mean {1000 * busy / max(n, 1):.0f} ms; "
              f"summed over streams), {r['took'] - busy / inflight:.2f} s of the {r['took']:.2f} s not waiting on "
              f"the node (if the streams overlap fully)", flush=True)

    # (b) the node's ceiling for the same documents, same concurrency and request size; the node is shared
    # with everything else on the machine: several runs, the median counts
    docs = index_docs(t)
    docs.pop("0", None)
    runs = []
    for _ in range(a.ceiling_runs):
        c, nbytes = node_ceiling(t + "_ceiling", docs, per_req, inflight, t)
        runs.append(c)
    ceiling = statistics.median(runs)
    http("DELETE", f"/{t}", ok=(200, 404))
    print(f"(b) node _bulk ceiling: the same {len(docs)} documents in {(len(docs) + per_req - 1) // per_req} "
          f"requests of {per_req} actions ({nbytes / 1e6:.1f} MB NDJSON), {inflight} in flight: median "
          f"{ceiling:,.0f} docs/s of {len(runs)} runs ({', '.join(f'{x:,.0f}' for x in runs)})", flush=True)
    print(f"ratios: canal-es / node ceiling = {r['rate'] / ceiling:.2f} (goal >= 0.9); canal-es / Canal = "
          f"{r['rate'] / null_rate:.2f}; CPU {us_row:.1f} us/row (goal <= 3); "
          f"peak RSS {r['rss']:.1f} MB (goal <= 32)", flush=True)
    return {"es": r["rate"], "ceiling": ceiling, "null": null_rate, "es_ceiling": r["rate"] / ceiling,
            "es_null": r["rate"] / null_rate, "us_row": us_row, "rss": r["rss"]}

if __name__ == "__main__":
    main()
