#!/usr/bin/env python3
"""Freshness on the real local stack: the time from a row's COMMIT in MariaDB until its document can be
read from the node (realtime GET), at a steady write rate, with the default configuration.

Usage (stack env loaded, e.g. `set -a; eval "$(scripts/stack.sh env)"; set +a`):
    bench/freshness.py --bin build/canal-es [--rate 1000] [--seconds 20] [--sample 20] [--writers 4]
                       [--concurrency N] [--config-extra section.key=value]...

canal-es runs with its default configuration (bench/benchlib.py: only the connection keys and the table
rule, plus --concurrency / --config-extra when given). WRITERS connections (one mariadb client each) commit
RATE single-row INSERTs per second between them (autocommit: one row per commit; connection k writes the
rows i with i % WRITERS == k, each paced by the clock: row i is due at start + i / RATE); one connection
cannot reach 1 000 commits/s here (~580/s: a commit waits for its binlog and redo log writes), several
share the group commit. Every SAMPLE-th row is followed by a SELECT on its connection: the answer tells
that the commit is done, and that time is recorded; a reader thread polls the node (one realtime _mget of
every sampled row not seen yet per round, every 2 ms) until it is there. Prints p50, p90, p99 and max of
commit -> readable over the sampled rows, the rows/s the writers reached (all rows committed / time) and
canal-es' CPU per row. Not a test: it asserts nothing beyond every sampled row arriving.
"""
import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
import itlib  # noqa: E402
from harness import ENV, poll, sql  # noqa: E402
from itlib import DB, new_table  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf(os.sysconf_names["SC_CLK_TCK"])
    return (int(parts[11]) + int(parts[12])) / tick


def exists(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--sample", type=int, default=20)
    ap.add_argument("--writers", type=int, default=4, help="connections sharing the rate (one row per commit)")
    ap.add_argument("--concurrency", type=int, default=None, help="[elasticsearch] concurrency of canal-es")
    ap.add_argument("--config-extra", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="one more key of canal-es' INI (repeatable)")
    a = ap.parse_args()
    itlib.BIN = a.bin
    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    t = "bench_fresh"
    new_table(t, "CREATE TABLE `{db}`.`{t}` (id INT PRIMARY KEY, v VARCHAR(40))")
    es = benchlib.default_canal_es(a.bin, {f"{DB}.{t}": {"index": t}}, a.concurrency,
                                   benchlib.parse_extra(a.config_extra)).start()
    base = ENV["ES_URL"].rstrip("/")
    try:
        # warm up: the index exists and canal-es is caught up
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (0, 'warm');")
        poll(lambda: exists(f"{base}/{t}/_doc/0"), 60, "the first document")
        cmd = ["mariadb", "--protocol=TCP", "-h", ENV["MYSQL_HOST"], "-P", ENV["MYSQL_PORT"], "-u", ENV["MYSQL_USER"],
               "-N", "-B", "--unbuffered", DB]
        samples = {}  # id -> commit time
        lat = []
        lock = threading.Lock()
        done = threading.Event()

        def reader():
            # one realtime _mget per round for every sampled row not seen yet, on one kept-alive connection
            host, port = base.split("//", 1)[1].split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            pending = {}
            while not done.is_set() or pending or samples:
                with lock:
                    pending.update(samples)
                    samples.clear()
                if not pending:
                    time.sleep(0.002)
                    continue
                body = json.dumps({"ids": [str(i) for i in pending]})
                conn.request("POST", f"/{t}/_mget?_source=false", body, {"Content-Type": "application/json"})
                docs = json.loads(conn.getresponse().read())["docs"]
                now = time.monotonic()
                for d in docs:
                    if d.get("found"):
                        i = int(d["_id"])
                        lat.append(now - pending.pop(i))
                time.sleep(0.002)

        n = a.rate * a.seconds
        failed = []

        def writer(k, start):
            w = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=dict(os.environ, MYSQL_PWD=ENV["MYSQL_PASSWORD"]), bufsize=1)
            for i in range(1 + k, n + 1, a.writers):
                due = start + i / a.rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                if i % a.sample == 0:
                    # the commit is done when the server answers the SELECT that follows it
                    w.stdin.write(f"INSERT INTO `{t}` VALUES ({i}, 'v{i}'); SELECT {i};\n")
                    w.stdin.flush()
                    w.stdout.readline()
                    with lock:
                        samples[i] = time.monotonic()
                else:
                    w.stdin.write(f"INSERT INTO `{t}` VALUES ({i}, 'v{i}');\n")
            w.stdin.close()
            if w.wait(timeout=300) != 0:
                failed.append(w.stderr.read()[:300])

        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        cpu0 = cpu_seconds(es.proc.pid)
        start = time.monotonic()
        ws = [threading.Thread(target=writer, args=(k, start)) for k in range(a.writers)]
        for th in ws:
            th.start()
        for th in ws:
            th.join()
        if failed:
            raise SystemExit(f"a writer failed: {failed[0]}")
        wrote = n / (time.monotonic() - start)
        done.set()
        rt.join(timeout=120)
        cpu = cpu_seconds(es.proc.pid) - cpu0
    finally:
        es.stop()
    ms = [x * 1000 for x in lat]
    print(f"freshness: {len(ms)} sampled rows of {n} at {wrote:.0f} rows/s written (target {a.rate}, "
          f"{a.writers} connections, one row per commit): commit -> readable "
          f"p50 {pct(ms, 0.5):.0f} ms, p90 {pct(ms, 0.9):.0f} ms, p99 {pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms; "
          f"canal-es CPU {cpu:.2f} s ({cpu / n * 1e6:.1f} us/row)")


if __name__ == "__main__":
    main()
