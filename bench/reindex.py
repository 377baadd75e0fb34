#!/usr/bin/env python3
"""Initial load inside `canal-es run` on the real local stack: MariaDB → canal-es (snapshot) → search node,
with the stream running beside it (docs/reindex.md).

Usage (the stack must be up: `STACK_DIR=... scripts/stack.sh up`; its env is read from the environment, or
else from `scripts/stack.sh env` of $STACK_DIR):
    bench/reindex.py [--bin build/canal-es] [--rows 1000000] [--chunk-rows 1000] [--concurrency 1] [--keep]

1. Creates a table of ROWS rows x 12 columns of mixed types (bigint key, int, varchar, text, decimal,
   double, datetime, timestamp, enum, json, tinyint, blob) from MariaDB's sequence engine (INSERT ...
   SELECT FROM seq_A_to_B, ten statements) with sql_log_bin = 0: the rows predate the binlog window, as in
   a table older than the binlog retention, so only the snapshot can bring them (and the stream does not
   carry them too).
2. Moves canal-es' Canal cursor to the present (a short run on a marker table), then starts
   `canal-es run` with [mysql], [checkpoint] (fresh: so the rule's `snapshot = initial` loads the table in
   place), [reindex] chunk_rows/concurrency and [http] listen.
3. While the job runs, a writer updates random rows of the same table (50/s, one mariadb client) and a
   probe measures the stream lag: for one committed UPDATE every 0.5 s, the time from its commit to its
   document version being visible (realtime GET). GET /reindex is polled every 0.5 s.
4. Prints rows/s overall and for each tenth of the table (from the rows counter over time: keyset
   pagination must keep them flat), canal-es' peak RSS (VmHWM), CPU per row (utime+stime), the stream
   lag p50/max during the job (probe, and the job's own stream_lag_ms).
5. The node's own ceiling for the same documents at the same concurrency, in the same run: the documents
   are read back (scroll), turned into _bulk requests of CHUNK_ROWS actions with external versions, and
   posted into a fresh index with the target's settings and mappings, CONCURRENCY requests in flight.
6. The source side alone, for comparison: `canal-es snapshot --dry-run` reads and converts the same
   chunks with no node (stdout to /dev/null).
7. Checks that the index holds exactly as many documents as the table has rows: PASS/FAIL (exit 1).
Not a test (not run by scripts/test.sh).
"""
import argparse
import datetime
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))


def load_stack_env():
    """The stack's KEY=VALUE lines: from the environment, else from `scripts/stack.sh env`."""
    if all(k in os.environ for k in ("MYSQL_HOST", "CANAL_HOST", "ES_URL")):
        return
    p = subprocess.run([os.path.join(REPO, "scripts", "stack.sh"), "env"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("bench/reindex: the stack is not up; start it with "
                         "`STACK_DIR=/tmp/st-NAME scripts/stack.sh up` (the same STACK_DIR for this command)")
    for line in p.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            os.environ[k] = v


load_stack_env()

from harness import ENV, CanalEs, http, poll, sql  # noqa: E402
from itlib import DB  # noqa: E402

TABLE = "bench_reindex"
DDL = """CREATE TABLE `{db}`.`{t}` (
  id BIGINT NOT NULL PRIMARY KEY,
  qty INT NOT NULL,
  name VARCHAR(100) NOT NULL,
  descr TEXT NULL,
  price DECIMAL(12,2) NOT NULL,
  score DOUBLE NOT NULL,
  created DATETIME(3) NOT NULL,
  updated TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  status ENUM('new','active','retired') NOT NULL,
  attrs JSON NULL,
  flag TINYINT NOT NULL,
  payload BLOB NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
FILL = """INSERT INTO `{db}`.`{t}` SELECT seq, seq % 1000, CONCAT('product ', seq, ' ', SUBSTRING(MD5(seq), 1, 8)),
  IF(seq % 7 = 0, NULL, CONCAT('description of item ', seq, ': ', REPEAT(SUBSTRING(MD5(seq), 1, 10), 1 + seq % 5))),
  (seq % 100000) / 100 + 0.99, seq / 7e0, '2024-01-01 00:00:00.000' + INTERVAL seq SECOND,
  '2025-06-01 12:00:00.000' + INTERVAL (seq % 86400) SECOND, 1 + seq % 3,
  IF(seq % 5 = 0, NULL, JSON_OBJECT('color', ELT(1 + seq % 4, 'red', 'green', 'blue', 'black'),
                                    'size', seq % 50, 'tags', JSON_ARRAY('a', seq % 10))),
  seq % 2, IF(seq % 3 = 0, NULL, UNHEX(MD5(seq)))
FROM seq_{a}_to_{b}"""


def pctl(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * (len(s) - 1) + 0.5))]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_json(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def create_table(rows):
    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;"
        f"DROP TABLE IF EXISTS `{DB}`.`{TABLE}`;" + DDL.format(db=DB, t=TABLE) + ";")
    t0 = time.monotonic()
    step = max(1, (rows + 9) // 10)
    for a in range(1, rows + 1, step):
        b = min(rows, a + step - 1)
        sql("SET SESSION sql_log_bin = 0, time_zone = '+00:00';" + FILL.format(db=DB, t=TABLE, a=a, b=b) + ";", db=DB)
    return time.monotonic() - t0


class Writer:
    """Updates random rows at `rate`/s through one mariadb client; each UPDATE sets qty = -seq (the table's
    own values are >= 0), and a SELECT after it tells when it committed. The probe takes the newest
    committed update every 0.5 s and polls its document until qty <= -seq (realtime GET)."""

    def __init__(self, rows, rate, index):
        self.rows, self.rate, self.index = rows, rate, index
        self.stop = threading.Event()
        self.committed = None  # (seq, id, monotonic time of the commit)
        self.done = 0
        self.lags = []  # (wall time of the commit, seconds until visible)
        self.probe_timeouts = 0
        self.error = None
        cmd = ["mariadb", "--protocol=TCP", "-h", ENV["MYSQL_HOST"], "-P", ENV["MYSQL_PORT"], "-u", ENV["MYSQL_USER"],
               "--batch", "--raw", "--skip-column-names", "--unbuffered", "-D", DB]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env=dict(ENV, MYSQL_PWD=ENV["MYSQL_PASSWORD"]), text=True, bufsize=1)
        self.threads = [threading.Thread(target=self._write, daemon=True),
                        threading.Thread(target=self._probe, daemon=True)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _write(self):
        rnd = random.Random(7)
        seq = 0
        t_next = time.monotonic()
        try:
            while not self.stop.is_set():
                seq += 1
                rid = rnd.randint(1, self.rows)
                self.p.stdin.write(f"UPDATE `{TABLE}` SET qty = -{seq}, price = price + 1, updated = NOW(3) "
                                   f"WHERE id = {rid}; SELECT {seq};\n")
                self.p.stdin.flush()
                line = self.p.stdout.readline()
                if line.strip() != str(seq):
                    raise RuntimeError(f"writer: unexpected answer {line!r}: {self.p.stderr.read()[:300]}")
                self.committed = (seq, rid, time.monotonic(), time.time())
                self.done = seq
                t_next += 1.0 / self.rate
                self.stop.wait(max(0.0, t_next - time.monotonic()))  # the writer's rate, not a wait for a result
        except (OSError, RuntimeError) as e:
            self.error = str(e)

    def _probe(self):
        base = ENV["ES_URL"].rstrip("/") + f"/{self.index}/_doc/"
        last = 0
        while not self.stop.is_set():
            c = self.committed
            if c is None or c[0] == last:
                self.stop.wait(0.05)
                continue
            seq, rid, t_commit, wall = c
            last = seq
            deadline = t_commit + 120
            while True:
                try:
                    d = get_json(f"{base}{rid}?_source_includes=qty", timeout=10)
                    if d.get("found") and d["_source"]["qty"] <= -seq:
                        self.lags.append((wall, time.monotonic() - t_commit))
                        break
                except (urllib.error.URLError, OSError, KeyError, ValueError):
                    pass  # the index may not exist yet: keep polling
                if time.monotonic() >= deadline:
                    self.probe_timeouts += 1
                    break
                time.sleep(0.02)  # probe poll interval, bounded by the deadline
            self.stop.wait(max(0.0, t_commit + 0.5 - time.monotonic()))

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=150)
        try:
            self.p.stdin.close()
            self.p.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()


def move_cursor_to_present(binary):
    """A short run on a marker table: Canal's cursor of client 1001 is then past everything written so far."""
    mark = f"{TABLE}_mark"
    sql(f"CREATE TABLE IF NOT EXISTS `{DB}`.`{mark}` (id INT PRIMARY KEY, v INT);"
        f"REPLACE INTO `{DB}`.`{mark}` VALUES (1, {int(time.time())});")
    http("DELETE", f"/{mark}", ok=(200, 404))
    es = CanalEs(binary, {f"{DB}.{mark}": {"index": mark}})
    es.start()
    try:
        poll(lambda: http("GET", f"/{mark}/_doc/1", ok=(200, 404, 503))[0] == 200, 600, "the marker row", interval=0.3)
    finally:
        es.stop()
    http("DELETE", f"/{mark}", ok=(200, 404))
    sql(f"DROP TABLE `{DB}`.`{mark}`;")


LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")


def job_from_log(text, table):
    """The job of `table` as GET /reindex would give it, and its (wall time, rows) samples, from canal-es'
    "reindex" log lines (a progress line every 5 s): for a canal-es without the GET /reindex endpoint."""
    job, samples = None, []
    for line in text.splitlines():
        if " reindex " not in line:
            continue
        m = LOG_TS.match(line)
        if not m:
            continue
        ts = datetime.datetime.strptime(m.group(1)[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        if re.search(r"job \d+ (started|resumed) \(", line) and job is None:
            job = {"table": table, "state": "loading", "rows": 0, "started_ms": ts * 1000, "chunks": None}
            continue
        if job is None:
            continue
        m = re.search(r"job \d+ " + re.escape(table) + r": (\d+) of ~(\d+) rows .*stream lag ([\d.]+) s", line)
        if m:
            job.update(rows=int(m.group(1)), rows_estimate=int(m.group(2)), stream_lag_ms=float(m.group(3)) * 1000)
            samples.append((ts, job["rows"]))
            continue
        m = re.search(r"job \d+ done: " + re.escape(table) + r", (\d+) rows in (\d+) chunks", line)
        if m:
            job.update(state="done", rows=int(m.group(1)), chunks=int(m.group(2)), finished_ms=ts * 1000)
            samples.append((ts, job["rows"]))
            continue
        m = re.search(r"job \d+ \(" + re.escape(table) + r"\) failed: (.*)", line)
        if m:
            job.update(state="failed", error=m.group(1), finished_ms=ts * 1000)
        elif re.search(r"job \d+ cancelled", line):
            job.update(state="cancelled", finished_ms=ts * 1000)
    return job, samples


def tenth_bounds(samples, started, rows):
    """The wall times at which the rows counter crossed each tenth of the table (interpolated), or None."""
    pts = [(started, 0)] + [(t, r) for t, r in samples if r > 0]
    out = [started]
    for k in range(1, 11):
        goal = rows * k / 10
        tk = None
        for (t0, r0), (t1, r1) in zip(pts, pts[1:]):
            if r0 < goal <= r1:
                tk = t0 + (t1 - t0) * (goal - r0) / (r1 - r0)
                break
        out.append(tk)
    return out


def tenths(samples, started, rows):
    """rows/s in each tenth of the table, from (wall time, rows done) samples, crossing times interpolated."""
    pts = [(started, 0)] + [(t, r) for t, r in samples if r > 0]
    out = []
    prev_t = started
    for k in range(1, 11):
        goal = rows * k / 10
        for (t0, r0), (t1, r1) in zip(pts, pts[1:]):
            if r0 < goal <= r1:
                tk = t0 + (t1 - t0) * (goal - r0) / (r1 - r0)
                out.append(rows / 10 / max(tk - prev_t, 1e-9))
                prev_t = tk
                break
        else:
            out.append(float("nan"))
    return out


def node_ceiling(index, like, docs_path, concurrency):
    """docs/s of the node for the pre-built _bulk bodies in docs_path, `concurrency` requests in flight,
    into a fresh index with the settings and mappings of index `like`."""
    _, s = http("GET", f"/{like}/_settings")
    st = s[like]["settings"]["index"]
    settings = {"number_of_shards": st.get("number_of_shards", "1"),
                "number_of_replicas": st.get("number_of_replicas", "1")}
    if "refresh_interval" in st:
        settings["refresh_interval"] = st["refresh_interval"]
    _, m = http("GET", f"/{like}/_mapping")
    http("DELETE", f"/{index}", ok=(200, 404))
    http("PUT", f"/{index}", {"settings": settings, "mappings": m[like]["mappings"]})
    with open(docs_path, "rb") as f:
        bodies = f.read().split(b"\n\x00\n")
    bodies = [b.replace(b"@@INDEX@@", index.encode()) for b in bodies if b]
    n_docs = sum(b.count(b"\n") // 2 for b in bodies)
    nxt = [0]
    lock = threading.Lock()
    errors = []

    def post():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(bodies) or errors:
                return
            req = urllib.request.Request(ENV["ES_URL"].rstrip("/") + "/_bulk?filter_path=errors", data=bodies[i],
                                         method="POST", headers={"Content-Type": "application/x-ndjson"})
            try:
                with urllib.request.urlopen(req, timeout=300) as r:
                    if json.loads(r.read()).get("errors"):
                        errors.append("the node rejected documents")
            except (urllib.error.URLError, OSError) as e:
                errors.append(str(e))

    threads = [threading.Thread(target=post) for _ in range(concurrency)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    http("DELETE", f"/{index}", ok=(200, 404))
    if errors:
        raise SystemExit(f"node ceiling: {errors[0]}")
    return n_docs / took, took


def dump_bodies(index, per_request, path):
    """Reads every document of index back (scroll) and writes _bulk bodies of per_request actions with
    external versions (as canal-es sends them) to path, separated by \\n\\0\\n. Returns the count."""
    http("POST", f"/{index}/_refresh")
    n = 0
    batch = []
    with open(path, "wb") as out:
        def flush():
            if batch:
                out.write(b"".join(batch) + b"\n\x00\n")
                batch.clear()
        _, r = http("POST", f"/{index}/_search?scroll=5m", {"size": 5000, "sort": ["_doc"]})
        while r["hits"]["hits"]:
            for h in r["hits"]["hits"]:
                batch.append(json.dumps({"index": {"_index": "@@INDEX@@", "_id": h["_id"], "version": 1000 + n,
                                                   "version_type": "external"}}).encode() + b"\n" +
                             json.dumps(h["_source"], ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                n += 1
                if len(batch) == per_request:
                    flush()
            _, r = http("POST", "/_search/scroll", {"scroll": "5m", "scroll_id": r["_scroll_id"]})
        flush()
    http("DELETE", "/_search/scroll", {"scroll_id": r["_scroll_id"]}, ok=(200, 404))
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "canal-es"))
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--chunk-rows", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--writes-per-s", type=float, default=50)
    ap.add_argument("--keep", action="store_true", help="keep the table and the index")
    a = ap.parse_args()
    if a.rows < 10 or a.chunk_rows < 1 or a.concurrency < 1 or a.writes_per_s <= 0:
        ap.error("--rows >= 10, --chunk-rows >= 1, --concurrency >= 1, --writes-per-s > 0")
    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        raise SystemExit(f"bench/reindex: {binary} is not an executable; build it first (cmake --build build)")

    fill_s = create_table(a.rows)
    rows = int(sql(f"SELECT COUNT(*) FROM `{DB}`.`{TABLE}`;")[0])
    print(f"table {DB}.{TABLE}: {rows} rows x 12 columns created in {fill_s:.1f} s", flush=True)
    http("DELETE", f"/{TABLE}", ok=(200, 404))
    move_cursor_to_present(binary)

    es = CanalEs(binary, {f"{DB}.{TABLE}": {"index": TABLE, "id": "id"}})
    port = free_port()
    with open(es.ini, "a") as f:
        f.write("\n".join(["", "[mysql]", f"host = {ENV['MYSQL_HOST']}", f"port = {ENV['MYSQL_PORT']}",
                           f"user = {ENV['MYSQL_USER']}", "password = ${BENCH_MYSQL_PASSWORD}", "",
                           "[reindex]", f"chunk_rows = {a.chunk_rows}", f"concurrency = {a.concurrency}", "",
                           "[checkpoint]", f"file = {os.path.join(es.dir, 'checkpoint')}", "",
                           "[http]", f"listen = 127.0.0.1:{port}", ""]))
    es.env = dict(es.env, BENCH_MYSQL_PASSWORD=ENV["MYSQL_PASSWORD"])
    status_url = f"http://127.0.0.1:{port}/reindex"

    es.start()
    t_start = time.time()
    writer = Writer(rows, a.writes_per_s, TABLE).start()
    samples, lag_ms, job, source, loads = [], [], None, "http", []
    deadline = time.monotonic() + max(900, rows / 200)
    try:
        while True:
            if not es.alive():
                raise SystemExit(f"bench/reindex: canal-es exited ({es.proc.returncode}); log:\n{es.tail()}")
            loads.append((time.time(), os.getloadavg()[0]))
            if source == "http":
                try:
                    jobs = get_json(status_url, timeout=5).get("jobs", [])
                except urllib.error.HTTPError as e:
                    jobs = []
                    if e.code == 404:
                        source = "log"  # a canal-es without GET /reindex: its progress lines instead
                except (urllib.error.URLError, OSError, ValueError):
                    jobs = []  # listener not up yet
                job = next((j for j in jobs if j.get("table") == f"{DB}.{TABLE}"), None)
                if job:
                    samples.append((time.time(), job.get("rows", 0)))
            if source == "log":
                job, samples = job_from_log(es.log_text(), f"{DB}.{TABLE}")
            if job:
                if job.get("state") in ("loading", "catching_up", "swapping") and job.get("stream_lag_ms") is not None:
                    if source == "http" or not lag_ms or lag_ms[-1][0] != samples[-1][0]:
                        lag_ms.append((samples[-1][0] if samples else time.time(), job["stream_lag_ms"]))
                if job.get("state") in ("done", "failed", "cancelled"):
                    break
            if time.monotonic() >= deadline:
                raise SystemExit(f"bench/reindex: no finished job after {deadline:.0f} s; last status {job}; "
                                 f"log:\n{es.tail()}")
            time.sleep(0.5)  # the status poll interval, bounded by the deadline
        t_done = time.time()
        cpu_s = proc_cpu_s(es.proc.pid)
        hwm_mb = proc_status(es.proc.pid, "VmHWM") / 1024
        # the same writer for a while with no job running: the stream's own lag, to compare with
        n0 = len(writer.lags)
        t_base = time.monotonic() + 30
        while len(writer.lags) < n0 + 20 and time.monotonic() < t_base and not writer.error:
            time.sleep(0.2)  # bounded by t_base
    finally:
        writer.finish()
    if job["state"] != "done":
        es.stop()
        raise SystemExit(f"bench/reindex: the job ended {job['state']}: {job.get('error')}; log:\n{es.tail()}")
    # the writer's last update reaches the index before the count is compared
    seq_last, rid_last = writer.done, writer.committed[1] if writer.committed else None
    if rid_last:
        poll(lambda: http("GET", f"/{TABLE}/_doc/{rid_last}", ok=(200, 404))[1].get("_source", {}).get("qty", 0)
             <= -seq_last, 300, "the writer's last update in the index", interval=0.2)
    es.stop()

    started = job.get("started_ms", t_start * 1000) / 1000
    finished = (job.get("finished_ms") or t_done * 1000) / 1000
    took = finished - started
    per_tenth = tenths(samples, started, rows)
    ok = [x for x in per_tenth if x == x]
    lags = [v for _, v in lag_ms]
    src_note = "" if source == "http" else " of its progress log lines, 0.1 s resolution: no GET /reindex"
    probe = [lag for wall, lag in writer.lags if started <= wall <= finished]
    print(f"canal-es initial load: {job['rows']} rows in {took:.1f} s = {rows / took:,.0f} rows/s "
          f"(chunk_rows {a.chunk_rows}, concurrency {a.concurrency}; {job.get('chunks')} chunks; "
          f"{t_done - t_start:.1f} s from the process start to done)")
    la = [v for _, v in loads]
    print(f"  machine: {os.cpu_count()} cores, 1-min load average during the job {min(la):.1f} to {max(la):.1f} "
          f"(the stack, canal-es, this script and whatever else runs share them)")
    b = tenth_bounds(samples, started, rows)
    per = []
    for k in range(10):
        v = [x for t, x in loads if b[k] is not None and b[k + 1] is not None and b[k] <= t <= b[k + 1]]
        per.append(f"{sum(v) / len(v):.1f}" if v else "?")
    print("  1-min load average per tenth: " + " ".join(per))
    print("  rows/s per tenth of the table: " + " ".join(f"{x:,.0f}" for x in per_tenth) +
          (f"  (min/max {min(ok) / max(ok):.2f})" if ok else ""))
    print(f"  canal-es peak RSS {hwm_mb:.1f} MB; CPU {cpu_s:.1f} s = {1e6 * cpu_s / rows:.1f} us per row "
          f"({100 * cpu_s / max(t_done - t_start, 1e-9):.0f}% of one core)")
    print(f"  stream lag during the job, {writer.done} updates at {a.writes_per_s:g}/s: commit to visible "
          f"p50 {pctl(probe, 0.5) * 1000:.0f} ms, p95 {pctl(probe, 0.95) * 1000:.0f} ms, "
          f"max {max(probe, default=float('nan')) * 1000:.0f} ms ({len(probe)} probes, "
          f"{writer.probe_timeouts} timed out); the job's stream lag p50 {pctl(lags, 0.5):.0f} ms, max "
          f"{max(lags, default=float('nan')):.0f} ms ({len(lags)} samples{src_note})")
    base = [lag for wall, lag in writer.lags if wall > finished]
    print(f"  stream lag after the job (same writer, no job): p50 {pctl(base, 0.5) * 1000:.0f} ms, "
          f"max {max(base, default=float('nan')) * 1000:.0f} ms ({len(base)} probes)")
    if writer.error:
        print(f"  writer stopped early: {writer.error}")

    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as tmp:
        path = os.path.join(tmp, "bodies")
        n = dump_bodies(TABLE, a.chunk_rows, path)
        ceiling, c_took = node_ceiling(TABLE + "_ceiling", TABLE, path, a.concurrency)
    print(f"node ceiling: the same {n} documents posted directly in requests of {a.chunk_rows}, "
          f"{a.concurrency} in flight: {ceiling:,.0f} docs/s ({c_took:.1f} s); "
          f"canal-es reached {rows / took / ceiling:.2f} of it")

    # the source side alone: the same chunks read and converted, no node (stdout to /dev/null)
    # (its documents are counted as they arrive: 2 lines each, so the tenths of the source side alone)
    t0 = time.time()
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen([binary, "snapshot", "-c", es.ini, "--table", f"{DB}.{TABLE}", "--dry-run",
                              "--log-level", "warn"], stdout=subprocess.PIPE, stderr=errf, env=es.env)
        lines, src_samples = 0, []
        while True:
            block = p.stdout.read1(1 << 20)
            if not block:
                break
            lines += block.count(b"\n")
            src_samples.append((time.time(), lines // 2))
        rc = p.wait()
        errf.seek(0)
        err = errf.read().decode(errors="replace")
    s_took = time.time() - t0
    if rc == 0:
        src = rows / s_took
        src_tenths = tenths(src_samples, t0, rows)
        print(f"source side: `canal-es snapshot --dry-run` read and converted the {rows} rows in chunks of "
              f"{a.chunk_rows} in {s_took:.1f} s = {src:,.0f} rows/s (no node); reading then writing one chunk "
              f"after the other would give {1 / (1 / src + 1 / ceiling):,.0f} rows/s")
        print("  source rows/s per tenth of the table: " + " ".join(f"{x:,.0f}" for x in src_tenths))
    else:
        print(f"source side: canal-es snapshot --dry-run failed ({rc}): {err[-300:]}")

    http("POST", f"/{TABLE}/_refresh")
    docs = http("GET", f"/{TABLE}/_count")[1]["count"]
    rows_now = int(sql(f"SELECT COUNT(*) FROM `{DB}`.`{TABLE}`;")[0])
    passed = docs == rows_now
    print(f"count check: {docs} documents, {rows_now} rows: {'PASS' if passed else 'FAIL'}")
    if not a.keep:
        http("DELETE", f"/{TABLE}", ok=(200, 404))
        sql(f"DROP DATABASE `{DB}`;")
    else:
        print(f"kept: table {DB}.{TABLE}, index {TABLE}, canal-es config {es.ini}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
