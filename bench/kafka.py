#!/usr/bin/env python3
"""canal-es in Kafka mode ([kafka]): rows/s and CPU per row with 1, 2, 3 ... instances in one consumer
group, and the TCP path (one canal-es on the Canal TCP destination) for comparison, in one run.

Needs the Kafka stack (STACK_MQ=kafka scripts/stack.sh up; kcat from STACK_MQ=kafka scripts/bootstrap.sh)
and its environment (`set -a; eval "$(scripts/stack.sh env)"; set +a`):
    bench/kafka.py --bin build/canal-es [--rows 100000] [--instances 1,2,3] [--rounds R] [--no-tcp]
                   [--concurrency N] [--config-extra section.key=value]... [--metrics]

canal-es runs with its DEFAULT configuration, as in bench/e2e.py: the INI holds only the connection keys
([kafka] brokers, topic, group_id; or [canal] for the TCP path), one table rule, [elasticsearch]
concurrency when --concurrency is given and each --config-extra key (kafka.* keys go only to the Kafka
instances, canal.* keys only to the TCP one). For each K of --instances, on a fresh table and a fresh
group_id:

  0. drain: one instance of the new group (it starts at the earliest offsets: the topic keeps every row
     ever written on the stack) reads the whole topic until the group's committed offset of every
     partition is its end offset ([http] listen on this instance only, to read
     canal_es_kafka_partition_committed_offset), then stops: the group now starts at the end;
  1. N product rows (7 columns, 10 000-row transactions, as e2e) into the table while no canal-es runs;
  2. the topic is read with kcat from the end offsets taken before the write until it holds N row entries
     of the table (records and rows counted): Canal has produced every row before any consumer starts;
  3. K instances of the group are started one after the other; the time runs from the first start until
     the index holds every row (a realtime GET of the last id every 5 ms, then _refresh + _count). Prints
     rows/s, CPU (utime + stime from /proc/PID/stat over each whole life) summed over the instances per row,
     the peak RSS (VmHWM) of each, and from their stats lines the rows each read, the _bulk requests, and
     the partitions each held at the end. The time includes the process starts and the group's rebalances
     (every join of the eager range assignor revokes and re-assigns all partitions).

The TCP path (unless --no-tcp) is e2e's (a) on the same machine state: a drain with a marker row, N rows,
one canal-es on the TCP destination from its start until the index holds every row. Its rows are also
produced to the topic (both destinations read the same binlog); the next Kafka drain skips them.
The tables are kept (their indexes are deleted): the TCP destination is not read during the Kafka
measurements and lags behind the binlog, and Canal looks a table's columns up on the live server when it
parses its rows; a table dropped before that stops the destination's parser ("fetch failed by table meta").
The machine has 2 cores shared by MariaDB, Canal, Kafka, the node and the instances: the scaling is what
it is here, not what more cores would give. Not a test: it asserts nothing beyond completing.
"""
import argparse
import os
import re
import socket
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
import e2e  # noqa: E402
import itlib  # noqa: E402
from harness import ENV, http, poll, sql  # noqa: E402
from itlib import DB, RID, new_table, product_rows  # noqa: E402
from kafkalib import _all, _first, end_offsets, fields, kafka_env_missing, kcat, read_records  # noqa: E402

SETTINGS = e2e.SETTINGS


def free_port():
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def committed_offsets(port):
    """{partition: committed offset} from an instance's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {int(p): int(float(v)) for p, v in
            re.findall(r'^canal_es_kafka_partition_committed_offset\{[^}]*partition="(\d+)"\} (\S+)$', text, re.M)}


def bulk_busy(port):
    """(seconds, requests) of canal_es_bulk_request_duration_seconds from an instance's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    got = dict(re.findall(r"^canal_es_bulk_request_duration_seconds_(sum|count) (\S+)$", text, re.M))
    return float(got.get("sum", 0)), int(float(got.get("count", 0)))


def drain(a, t, group):
    """Step 0: one instance of `group` reads the topic to its end and commits it, then stops."""
    port = free_port()
    extra = {s: list(kv) for s, kv in a.extra.items()}
    extra.setdefault("http", []).append(("listen", f"127.0.0.1:{port}"))
    es = benchlib.default_canal_es(a.bin, {f"{DB}.{t}": {"index": t}}, a.concurrency, extra, kafka_group=group)
    t0 = time.monotonic()
    es.start()
    try:
        def done():
            if not es.alive():
                raise SystemExit(f"the drain instance exited:\n{es.tail()}")
            end = end_offsets()
            got = committed_offsets(port)
            return all(end[p] == 0 or got.get(p, -1) >= end[p] for p in end)
        poll(done, 1800, f"group {group} committed at the end of every partition", interval=0.5)
    finally:
        rc = es.stop(timeout=60)
    if rc != 0:
        raise SystemExit(f"the drain instance exited with {rc}:\n{es.tail()}")
    return time.monotonic() - t0


def count_rows(value, table):
    """Rows of `table` (schema DB) in one record: the RowData items of its ROWDATA entries."""
    body = fields(_first(fields(value), 5, b""))
    n = 0
    for e in _all(body, 2):
        fs = fields(e)
        if _first(fs, 2, 2) != 2:
            continue
        h = fields(_first(fs, 1, b""))
        if _first(h, 9, b"").decode() != table or _first(h, 8, b"").decode() != DB:
            continue
        n += len(_all(fields(_first(fs, 3, b"")), 12))
    return n


def wait_produced(start, table, rows):
    """Step 2: reads the records after `start` until they hold `rows` rows of the table."""
    pos = dict(start)
    got = {"rows": 0, "records": 0}

    def more():
        for p, off, value in read_records(pos):
            pos[p] = off + 1
            got["records"] += 1
            if value is not None:
                got["rows"] += count_rows(value, table)
        return got["rows"] >= rows
    poll(more, 1800, f"{rows} rows of {table} in the topic", interval=0.2)
    return got["records"], got["rows"]


def run_group(a, t, group, k, rows):
    """Step 3: k instances of `group` from the first start until the index holds every row."""
    ports = [free_port() if a.metrics else None for _ in range(k)]
    members = []
    for port in ports:
        extra = {s: list(kv) for s, kv in a.extra.items()}
        if port:
            extra.setdefault("http", []).append(("listen", f"127.0.0.1:{port}"))
        members.append(benchlib.default_canal_es(a.bin, {f"{DB}.{t}": {"index": t}}, a.concurrency, extra,
                                                 kafka_group=group))
    conn = e2e.node_conn()

    def last_doc():
        conn.request("GET", f"/{t}/_doc/{rows}?_source=false")
        r = conn.getresponse()
        r.read()
        return r.status == 200

    def count():
        http("POST", f"/{t}/_refresh")
        return http("GET", f"/{t}/_count")[1]["count"] >= rows

    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    for m in members:
        m.start()
    try:
        poll(last_doc, 1800, f"document {rows}", interval=0.005)
        took = time.monotonic() - t0
        if not count():  # the other partitions' last batches may still be on their way
            poll(count, 600, f"{rows} documents", interval=0.02)
            took = time.monotonic() - t0
        cpu = [benchlib.cpu_seconds(m.proc.pid) for m in members]
        rss = [benchlib.peak_rss_mb(m.proc.pid) for m in members]
        busy = [bulk_busy(p) for p in ports if p]
    finally:
        rcs = [m.stop(timeout=60) for m in members]
    if any(rc != 0 for rc in rcs):
        bad = next(i for i, rc in enumerate(rcs) if rc != 0)
        raise SystemExit(f"instance {bad + 1} exited with {rcs[bad]}:\n{members[bad].tail()}")
    stats, parts, joins = [], [], []
    for m in members:
        text = m.log_text()
        stats.append(benchlib.last_stats(text))
        assigned = re.findall(r"partitions assigned: ([^\n]*)", text)
        parts.append(assigned[-1].strip() if assigned else "-")
        joins.append(len(assigned))
    return {"rate": rows / took, "took": took, "cpu": cpu, "rss": rss, "stats": stats, "parts": parts,
            "joins": joins, "busy": busy, "load": (load0, os.getloadavg()[0])}


def kafka_round(a, k, rnd, rows):
    t = f"bench_kafka{k}" + ("" if rnd == 1 else f"_{rnd}")
    group = f"bench-{RID}-{k}-{rnd}"
    new_table(t)
    http("PUT", f"/{t}", {"settings": SETTINGS})
    d = drain(a, t, group)
    start = end_offsets()
    w = e2e.write_rows(t, rows)
    t0 = time.monotonic()
    records, produced = wait_produced(start, t, rows)
    p = time.monotonic() - t0
    r = run_group(a, t, group, k, rows)
    st = r["stats"]
    cpu = sum(r["cpu"])
    us_row = cpu / rows * 1e6
    read = [int(s.get("rows", 0)) for s in st]
    reqs = sum(int(s.get("bulk_requests", 0)) for s in st)
    actions = sum(int(s.get("actions", 0)) for s in st)
    print(f"[kafka] {k} instance{'s' if k > 1 else ''} (group {group}): drain {d:.1f} s; {rows} rows written in "
          f"{w:.1f} s, in the topic {p:.1f} s later ({records} records, {produced} rows); indexed in "
          f"{r['took']:.2f} s = {r['rate']:,.0f} rows/s; CPU {cpu:.2f} s = {us_row:.1f} us/row summed "
          f"({', '.join(f'{c:.2f}' for c in r['cpu'])} s; {100 * cpu / r['took']:.0f}% of one core); peak RSS "
          f"{', '.join(f'{x:.1f}' for x in r['rss'])} MB; rows read {'+'.join(map(str, read))} = {sum(read)}; "
          f"{reqs} _bulk requests, {actions / reqs if reqs else 0:,.0f} actions each; assignments "
          f"{'+'.join(map(str, r['joins']))}, last partitions {' | '.join(r['parts'])}; load average "
          f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}", flush=True)
    if r["busy"]:
        print(f"        waiting for the node (canal_es_bulk_request_duration_seconds, per instance): "
              f"{', '.join(f'{b:.2f} s in {n} requests' for b, n in r['busy'])} of the {r['took']:.2f} s",
              flush=True)
    http("DELETE", f"/{t}", ok=(200, 404))
    return {"rate": r["rate"], "us_row": us_row, "rss": max(r["rss"])}


def tcp_round(a, rnd, rows):
    """e2e's drain and (a) on a table of its own."""
    t = "bench_kafka_tcp" + ("" if rnd == 1 else f"_{rnd}")
    new_table(t)
    http("PUT", f"/{t}", {"settings": SETTINGS})
    tcp_extra = {s: kv for s, kv in a.extra.items() if s != "kafka"}
    es = benchlib.default_canal_es(a.bin, {f"{DB}.{t}": {"index": t}}, a.concurrency, tcp_extra).start()
    t0 = time.monotonic()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(0, 1)};")
        poll(lambda: http("GET", f"/{t}/_doc/0", ok=(200, 404))[0] == 200, 600, "the marker row")
    finally:
        es.stop()
    d = time.monotonic() - t0
    w = e2e.write_rows(t, rows)
    load0 = os.getloadavg()[0]
    port = free_port() if a.metrics else None
    if port:
        tcp_extra = {s: list(kv) for s, kv in tcp_extra.items()}
        tcp_extra.setdefault("http", []).append(("listen", f"127.0.0.1:{port}"))
    ns = argparse.Namespace(bin=a.bin, concurrency=a.concurrency, extra=tcp_extra, metrics_port=port)
    r = e2e.run_canal_es(ns, t, rows)
    st = r["stats"]
    us_row = r["cpu_s"] / rows * 1e6
    reqs = int(st.get("bulk_requests", 0))
    print(f"[tcp]   1 instance: drain {d:.1f} s; {rows} rows written in {w:.1f} s; indexed in {r['took']:.2f} s = "
          f"{r['rate']:,.0f} rows/s; CPU {r['cpu_s']:.2f} s = {us_row:.1f} us/row "
          f"({100 * r['cpu_s'] / r['took']:.0f}% of one core); peak RSS {r['rss']:.1f} MB; "
          f"{reqs} _bulk requests, {int(st.get('actions', 0)) / reqs if reqs else 0:,.0f} actions each, "
          f"{int(st.get('batches', 0))} Canal batches; load average {load0:.1f} -> {os.getloadavg()[0]:.1f}",
          flush=True)
    m = r["metrics"]
    if m:
        print(f"        waiting for the node: {m.get('canal_es_bulk_request_duration_seconds_sum', 0.0):.2f} s in "
              f"{m.get('canal_es_bulk_request_duration_seconds_count', 0.0):.0f} requests of the {r['took']:.2f} s",
              flush=True)
    http("DELETE", f"/{t}", ok=(200, 404))
    return {"rate": r["rate"], "us_row": us_row, "rss": r["rss"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--instances", default="1,2,3", help="group sizes to measure, comma-separated")
    ap.add_argument("--rounds", type=int, default=1, help="repeat every measurement (fresh tables and groups)")
    ap.add_argument("--no-tcp", action="store_true", help="skip the TCP path")
    ap.add_argument("--concurrency", type=int, default=None, help="[elasticsearch] concurrency (default: canal-es')")
    ap.add_argument("--config-extra", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="one more key of canal-es' INI (repeatable); kafka.* only for the Kafka instances, "
                         "canal.* only for the TCP one")
    ap.add_argument("--metrics", action="store_true",
                    help="also set [http] listen on the measured instances and print the time they spent in "
                         "_bulk requests (from /metrics; not a default)")
    a = ap.parse_args()
    missing = kafka_env_missing()
    if missing:
        raise SystemExit(f"{', '.join(missing)} not set: start the stack with STACK_MQ=kafka and load its env")
    kcat()
    a.bin = os.path.abspath(a.bin)
    itlib.BIN = a.bin
    a.extra = benchlib.parse_extra(a.config_extra)
    sizes = [int(x) for x in a.instances.split(",") if x.strip()]
    print(f"bench/kafka.py: {a.rows} rows, instances {sizes}, {ENV['KAFKA_PARTITIONS']} partitions, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)

    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    results = {}
    for rnd in range(1, a.rounds + 1):
        if a.rounds > 1:
            print(f"--- round {rnd} of {a.rounds}", flush=True)
        for k in sizes:
            results.setdefault(f"kafka x{k}", []).append(kafka_round(a, k, rnd, a.rows))
        if not a.no_tcp:
            results.setdefault("tcp x1", []).append(tcp_round(a, rnd, a.rows))
    if a.rounds > 1:
        print(f"median of {a.rounds} rounds:")
        for name, rs in results.items():
            print(f"  {name}: {statistics.median(r['rate'] for r in rs):,.0f} rows/s, "
                  f"{statistics.median(r['us_row'] for r in rs):.1f} us/row, "
                  f"peak RSS {statistics.median(r['rss'] for r in rs):.1f} MB (largest instance)")


if __name__ == "__main__":
    main()
