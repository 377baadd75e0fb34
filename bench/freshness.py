#!/usr/bin/env python3
"""Freshness on the real local stack: the time from a row's COMMIT in MariaDB until its document can be
read from the node (realtime GET), at a steady write rate, with the default configuration.

Usage (stack env loaded, e.g. `set -a; eval "$(scripts/stack.sh up)"; set +a`):
    bench/freshness.py --bin build/canal-es [--rate 1000] [--seconds 20] [--sample 20]

A writer commits RATE single-row INSERTs per second (autocommit, one connection, paced by the clock) for
SECONDS; every SAMPLE-th row's commit time is recorded and a reader thread polls GET /index/_doc/ID
(realtime _mget of every sampled row not seen yet, one request per round, every 2 ms) until it is there. Prints p50, p90, p99 and max of
commit → readable over the sampled rows, the rows/s the writer reached, and canal-es' CPU seconds.
Not a test: it asserts nothing beyond every sampled row arriving.
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

import itlib  # noqa: E402
from harness import ENV, CanalEs, poll, sql  # noqa: E402
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
    a = ap.parse_args()
    itlib.BIN = a.bin
    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    t = "bench_fresh"
    new_table(t, "CREATE TABLE `{db}`.`{t}` (id INT PRIMARY KEY, v VARCHAR(40))")
    es = CanalEs(a.bin, {f"{DB}.{t}": {"index": t}}).start()
    base = ENV["ES_URL"].rstrip("/")
    try:
        # warm up: the index exists and canal-es is caught up
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (0, 'warm');")
        poll(lambda: exists(f"{base}/{t}/_doc/0"), 60, "the first document")
        cmd = ["mariadb", "--protocol=TCP", "-h", ENV["MYSQL_HOST"], "-P", ENV["MYSQL_PORT"], "-u", ENV["MYSQL_USER"],
               "-N", "-B", "--unbuffered", DB]
        w = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, MYSQL_PWD=ENV["MYSQL_PASSWORD"]), bufsize=1)
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
        rt = threading.Thread(target=reader, daemon=True)
        rt.start()
        cpu0 = cpu_seconds(es.proc.pid)
        n = a.rate * a.seconds
        start = time.monotonic()
        for i in range(1, n + 1):
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
        w.wait(timeout=120)
        wrote = n / (time.monotonic() - start)
        done.set()
        rt.join(timeout=120)
        cpu = cpu_seconds(es.proc.pid) - cpu0
    finally:
        es.stop()
    ms = [x * 1000 for x in lat]
    print(f"freshness: {len(ms)} sampled rows of {n} at {wrote:.0f} rows/s written: commit -> readable "
          f"p50 {pct(ms, 0.5):.0f} ms, p90 {pct(ms, 0.9):.0f} ms, p99 {pct(ms, 0.99):.0f} ms, max {max(ms):.0f} ms; "
          f"canal-es CPU {cpu:.2f} s ({cpu / n * 1e6:.1f} us/row)")


if __name__ == "__main__":
    main()
