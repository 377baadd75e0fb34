"""Initial loads and reindexes inside `canal-es run` (issue 11, docs/reindex.md) on the real stack.

Every test compares EVERY row of MariaDB with EVERY document of the index the rule's index or alias points to
(ids and the full _source). Rows that exist "before the start" are inserted with `SET sql_log_bin = 0`: they
never reach the binlog, so Canal cannot deliver them and only the snapshot can have put them in the index
(a pre-existing table whose binlogs were purged long ago). Jobs are driven and watched through the service's
[http] listener (GET /reindex, POST /reindex?table=DB.T, POST /reindex/cancel?id=N, Bearer admin_token), so
these tests do not depend on the `canal-es reindex` command.
"""
import json
import os
import random
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import itlib
from harness import (CanalEs, TestFailure, check, delete_index, diff, http, index_docs, need_delete_by_query, poll,
                     rows_as_docs, sql,
                     wait_in_sync)
from itlib import DB, PRODUCT_DDL, PRODUCT_OTHERS, product_docs, product_rows
from t_snapshot import FLOAT_ROWS, mysql_ini, set_reindex

TERMINAL = ("done", "failed", "cancelled")


# ------------------------------------------------------------------ the service and its job API
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Svc:
    """A CanalEs with [mysql] (the stack's server), [checkpoint] file (so the job state file F.reindex exists),
    [http] listen with admin_token, and [reindex] keys."""

    def __init__(self, tables, reindex=None, defaults=None):
        self.es = CanalEs(itlib.BIN, tables, defaults=defaults)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = f"it-admin-{itlib.RID}"
        self.ck = os.path.join(self.es.dir, "checkpoint.json")
        with open(self.es.ini, "a") as f:
            f.write(f"\n[checkpoint]\nfile = {self.ck}\n\n[http]\nlisten = 127.0.0.1:{self.port}\n"
                    "admin_token = ${IT_ADMIN_TOKEN}\n")
        mysql_ini(self.es, **(reindex or {}))
        self.es.env = dict(self.es.env, IT_ADMIN_TOKEN=self.token)

    def start(self):
        self.es.start()
        return self

    def kill9(self):
        self.es.proc.send_signal(signal.SIGKILL)
        self.es.proc.wait(timeout=30)
        self.es.logf.close()

    def stop(self):
        return self.es.stop(timeout=60)

    def set_reindex(self, **kv):
        set_reindex(self.es, **{k: str(v) for k, v in kv.items()})

    def call(self, method, path, token=True):
        """(status, parsed JSON or text) of a request to the service's listener."""
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {self.token if token is True else token}"
        req = urllib.request.Request(self.base + path, data=b"" if method == "POST" else None, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def jobs(self):
        status, body = self.call("GET", "/reindex", token=False)
        if status != 200 or not isinstance(body, dict):
            raise TestFailure(f"GET /reindex: HTTP {status}: {str(body)[:300]}")
        return body["jobs"]

    def submit(self, db_table):
        status, body = self.call("POST", "/reindex?table=" + urllib.parse.quote(db_table, safe=""))
        check(status == 202 and isinstance(body, dict) and "id" in body,
              f"POST /reindex?table={db_table}: HTTP {status} {body}; log:\n{self.es.tail(15)}")
        return body

    def metrics(self):
        """{'name{labels}': value} of /metrics."""
        try:
            with urllib.request.urlopen(self.base + "/metrics", timeout=10) as r:
                text = r.read().decode()
        except (urllib.error.URLError, OSError):
            return {}
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, val = line.rpartition(" ")
                try:
                    out[key] = float(val)
                except ValueError:
                    pass
        return out

    def reindex_rows_metric(self):
        """canal_es_reindex_rows_total of this process (None when /metrics has no such counter)."""
        m = self.metrics()
        vals = [v for k, v in m.items() if k.split("{")[0] == "canal_es_reindex_rows_total"]
        return sum(vals) if vals else None

    def wait_listener(self, timeout=60):
        def up():
            if not self.es.alive():
                raise TestFailure(f"canal-es exited {self.es.proc.returncode}: {self.es.tail(20)}")
            try:
                status, body = self.call("GET", "/reindex", token=False)
            except (urllib.error.URLError, OSError):
                return False
            check(status == 200, f"GET /reindex: HTTP {status} {str(body)[:200]}")
            return True
        poll(up, timeout, "GET /reindex on the [http] listener")

    def wait_jobs(self, match, timeout, count=1, want=("done",)):
        """Polls GET /reindex until at least `count` jobs satisfy match(job) and all of those are in a terminal
        state; each must be in `want`. Returns those jobs."""
        seen = {}

        def ended():
            if not self.es.alive():
                raise TestFailure(f"canal-es exited {self.es.proc.returncode} while waiting for jobs; "
                                  f"jobs {seen.get('j')}; log:\n{self.es.tail(20)}")
            js = [j for j in self.jobs() if match(j)]
            seen["j"] = js
            return js if len(js) >= count and all(j["state"] in TERMINAL for j in js) else None
        try:
            js = poll(ended, timeout, f"{count} job(s) to end", interval=0.3)
        except TestFailure as e:
            raise TestFailure(f"{e}; jobs: {brief(seen.get('j'))}; log:\n{self.es.tail(12)}")
        bad = [j for j in js if j["state"] not in want]
        check(not bad, f"job(s) ended {[(j['id'], j['state'], j.get('error')) for j in bad]}, expected {want}; "
                       f"jobs: {brief(js)}; log:\n{self.es.tail(12)}")
        return js


def brief(js):
    keys = ("id", "table", "mode", "origin", "state", "index", "alias", "rows", "rows_estimate", "chunks", "error",
            "resumes")
    return [{k: j.get(k) for k in keys} for j in (js or [])]


def of_table(t):
    return lambda j: j.get("table") == f"{DB}.{t}"


# ------------------------------------------------------------------ rows, documents, writers
def preload(t, first, count, ddl=PRODUCT_DDL, per=10000):
    """Creates product table t (dropping the index of that name) and inserts rows first..first+count-1 without
    binlog events (see the module docstring)."""
    sql(ddl.format(db=DB, t=t) + ";")
    delete_index(t)
    for a in range(first, first + count, per):
        n = min(per, first + count - a)
        sql(f"SET SESSION sql_log_bin = 0; INSERT INTO `{DB}`.`{t}` VALUES {product_rows(a, n, 'old')};")


def raw_doc(index, doc_id, routing=None):
    """The exact bytes of a document's _source (GET by id puts it last, copied verbatim) and its version."""
    url = f"{itlib_es()}/{index}/_doc/{urllib.parse.quote(doc_id, safe='')}"
    if routing is not None:
        url += f"?routing={urllib.parse.quote(routing, safe='')}"
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    head = json.loads(text)
    i = text.index('"_source":')
    return text[i + len('"_source":'):-1], head["_version"]


def itlib_es():
    from harness import ENV
    return ENV["ES_URL"].rstrip("/")


def alias_targets(alias):
    """{index: is_write_index} of the indexes alias points to ({} when it does not exist)."""
    status, body = http("GET", f"/_alias/{alias}", ok=(200, 404))
    if status == 404:
        return {}
    return {i: v["aliases"][alias].get("is_write_index") for i, v in body.items()}


def index_exists(name):
    return http("HEAD", f"/{name}", ok=(200, 404))[0] == 200


def alias_indexes(alias):
    """Every index named {alias}-yyyyMMddHHmmss, sorted."""
    status, body = http("GET", f"/_cat/indices/{alias}-*?format=json&h=index", ok=(200, 404))
    if status == 404:
        return []
    return sorted(x["index"] for x in body if re.fullmatch(re.escape(alias) + r"-\d{14}", x["index"]))


def load_settings_left(index):
    """The job's load settings still on index (refresh_interval -1, gc_deletes 24h), as {key: value}."""
    _, body = http("GET", f"/{index}/_settings?flat_settings=true")
    st = next(iter(body.values()))["settings"]
    left = {k: st.get(k) for k in ("index.refresh_interval", "index.gc_deletes")}
    return {k: v for k, v in left.items() if v in ("-1", "24h")}


class Writer(threading.Thread):
    """Changes rows of a product table without pause until stopped: INSERTs of new ids, UPDATEs, DELETEs and
    primary key changes (id -> id + 1000000: to the end of the key order, not yet read; id -> -id: to the
    start, already read), in autocommit statements and small transactions. Ids below `protect` are never
    touched; `ops` selects the kinds."""

    def __init__(self, t, n, ops=("insert", "update", "delete", "rekey"), protect=0, seed=1, new_base=500000):
        super().__init__(daemon=True)
        self.t, self.n, self.ops, self.protect = t, n, ops, protect
        self.rnd = random.Random(seed)
        self.next_id = new_base
        self.stop_ev = threading.Event()
        self.count = 0
        self.errors = []

    def pick(self):
        return self.rnd.randint(max(1, self.protect), self.n)

    def statement(self):
        t = f"`{DB}`.`{self.t}`"
        op = self.rnd.choice(self.ops)
        if op == "insert":
            self.next_id += 1
            return (f"INSERT IGNORE INTO {t} (id, name, qty, price, note, created, flag) "
                    f"VALUES {product_rows(self.next_id, 1, 'new')};")
        if op == "update":
            return (f"UPDATE {t} SET qty = COALESCE(qty, 0) + 1, name = CONCAT(LEFT(name, 80), '+'), "
                    f"note = NULL WHERE id = {self.pick()};")
        if op == "delete":
            return f"DELETE FROM {t} WHERE id = {self.pick()};"
        x = self.pick()
        if self.rnd.random() < 0.5:
            return f"UPDATE IGNORE {t} SET id = id + 1000000, name = 'moved up' WHERE id = {x};"
        return f"UPDATE IGNORE {t} SET id = -id, name = 'moved down' WHERE id = {x};"

    def run(self):
        try:
            while not self.stop_ev.is_set():
                stmts = [self.statement() for _ in range(10)]
                if self.rnd.random() < 0.3:
                    stmts = ["BEGIN;"] + stmts + ["COMMIT;"]
                sql("\n".join(stmts))
                self.count += 10
        except Exception as e:  # reported by finish()
            self.errors.append(repr(e))

    def finish(self):
        self.stop_ev.set()
        self.join(timeout=120)
        check(not self.errors, f"writer failed: {self.errors}")
        return self.count


def exact(index, expected_fn, timeout=90):
    """Polls until the index equals MariaDB (the stream catching up after the writer stopped), then compares
    once more and returns the documents."""
    wait_in_sync(index, expected_fn, timeout=timeout)
    want, got = expected_fn(), index_docs(index)
    check(want == got, f"index {index} vs MariaDB: {diff(want, got)}")
    return got


def common_checks(svc, j, mode, origin, rows_min):
    check(j["mode"] == mode and j["origin"] == origin, f"job mode/origin: {brief([j])}")
    check(j["rows"] >= rows_min and j["chunks"] >= 1 and not j.get("error"), f"job counts: {brief([j])}")


# ------------------------------------------------------------------ 1. initial load under writes
def test_reindex_initial_load_under_writes():
    """100 000 pre-existing rows (not in the binlog), [mysql] set: the first start loads them in place
    (chunk_rows = 1000, max_rows_per_s = 20000 so that the load takes at least 5 s) while a writer inserts, updates,
    deletes and moves primary keys both ahead of and behind the chunk cursor; after the job is done and the
    writer stopped, the index equals the table exactly. A restart does not load again."""
    t = "ri_initial"
    n = 100000
    preload(t, 1, n)
    svc = Svc({f"{DB}.{t}": {"index": t}}, reindex={"chunk_rows": 1000, "max_rows_per_s": 20000})
    w = Writer(t, n, seed=11)
    svc.start()
    try:
        svc.wait_listener()
        w.start()
        j = svc.wait_jobs(of_table(t), 400)[0]
        during = w.count
        poll(lambda: w.count >= during + 50, 30, "writes after the job ended")
        total = w.finish()
        check(during >= 200, f"only {during} writes happened while the job ran: make the load slower")
        common_checks(svc, j, "in_place", "initial", n // 2)
        check(j["index"] == t, f"in place into the rule's index: {brief([j])}")
        got = exact(t, product_docs(t))
        moved = sum(1 for k in got if int(k) < 0 or int(k) > 1000000)
        check(moved > 0, "some rows changed their primary key during the load")
        print(f"  initial load: {len(got)} documents, {during} writes during the job, {total} in all, "
              f"{moved} moved keys; job {brief([j])}", flush=True)
        check(svc.stop() == 0, "exit 0: " + svc.es.tail())
        svc.start()
        svc.wait_listener()
        sql(f"UPDATE `{DB}`.`{t}` SET qty = 424242 WHERE id = 2;")
        poll(lambda: index_docs(t).get("2", {}).get("qty") == 424242 or not sql(
            f"SELECT 1 FROM `{DB}`.`{t}` WHERE id = 2;"), 60, "the stream after the restart")
        again = [x for x in svc.jobs() if x["origin"] == "initial" and x["state"] not in ("done",)]
        check(not again, f"a restart must not load again: {brief(svc.jobs())}")
        rows = svc.reindex_rows_metric()
        check(rows in (None, 0), f"no snapshot rows written after the restart: canal_es_reindex_rows_total {rows}")
        exact(t, product_docs(t))
    finally:
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 2. alias swap under queries
def test_reindex_alias_swap_under_queries():
    """Rule alias = A, index = A_v1, 12 000 rows loaded initially. While a reader searches A without pause
    (size 0, track_total_hits) and a writer inserts and updates (no deletes), POST /reindex three times:
    never an HTTP error, never fewer hits than the rows before the job; each time the alias ends on the new
    A-yyyyMMddHHmmss (write index), which equals the table exactly; keep_old = 1 keeps the index just
    replaced (and A_v1, not of the A-* form), the third job deletes the first A-* index. POST without or with
    a wrong token is refused."""
    t = "ri_swap"
    alias, first = "ri_swap_live", "ri_swap_v1"
    n = 12000
    preload(t, 1, n)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"{DB}.{t}": {"index": first, "alias": alias}}, reindex={"chunk_rows": 1000, "keep_old": 1})
    expected = product_docs(t)
    svc.start()
    stop = threading.Event()
    seen = {"queries": 0, "min": None, "errors": []}

    def reader(floor):
        while not stop.is_set():
            try:
                st, body = http("POST", f"/{alias}/_search", {"size": 0, "track_total_hits": True}, ok=None)
            except (urllib.error.URLError, OSError) as e:
                st, body = "transport", repr(e)
            seen["queries"] += 1
            if st != 200:
                seen["errors"].append((st, str(body)[:200]))
                continue
            hits = body["hits"]["total"]["value"]
            seen["min"] = hits if seen["min"] is None else min(seen["min"], hits)
            if hits < floor:
                seen["errors"].append(("hits", hits))
    w = Writer(t, n, ops=("insert", "update"), seed=22)
    rd = None
    try:
        svc.wait_listener()
        svc.wait_jobs(of_table(t), 60)
        exact(alias, expected)
        check(alias_targets(alias) == {first: True}, f"initial load into {first}: {alias_targets(alias)}")
        for tok, what in ((False, "no token"), ("wrong-token", "a wrong token")):
            st, body = svc.call("POST", f"/reindex?table={DB}.{t}", token=tok)
            check(st in (401, 403), f"POST with {what}: HTTP {st} {body}")
        st, body = svc.call("POST", f"/reindex?table={DB}.no_such_table")
        check(st == 404, f"POST for a table without a rule: {st} {body}")
        floor = len(index_docs(alias))
        rd = threading.Thread(target=reader, args=(floor,), daemon=True)
        rd.start()
        w.start()
        made = []
        for k in range(3):
            before = set(alias_indexes(alias))
            job = svc.submit(f"{DB}.{t}")
            st, body = svc.call("POST", f"/reindex?table={DB}.{t}")
            check(st == 409, f"a second request while the job runs: HTTP {st} {body}")
            j = svc.wait_jobs(lambda x, i=job["id"]: x["id"] == i, 60)[0]
            common_checks(svc, j, "alias", "request", n)
            new = j["index"]
            check(re.fullmatch(re.escape(alias) + r"-\d{14}", new) and new not in before and j["alias"] == alias,
                  f"new index name {new} (before: {before})")
            made.append(new)
            check(alias_targets(alias) == {new: True}, f"alias after job {k + 1}: {alias_targets(alias)}")
            if k == 0:
                check(index_exists(first), f"{first} kept after the first swap")
            if k == 1:
                check(index_exists(first) and index_exists(made[0]),
                      f"keep_old = 1: {made[0]} (just replaced) and {first} (other name) kept: "
                      f"{alias_indexes(alias)}")
            if k == 2:
                check(not index_exists(made[0]) and index_exists(made[1]) and index_exists(first),
                      f"keep_old = 1: {made[0]} deleted, {made[1]} kept, {first} kept: {alias_indexes(alias)}")
            poll(lambda: seen["queries"] > 0, 10, "the reader")
        w.finish()
        stop.set()
        rd.join(timeout=60)
        check(seen["queries"] >= 20 and not seen["errors"],
              f"reader: {seen['queries']} queries, min hits {seen['min']} (floor {floor}), errors "
              f"{seen['errors'][:5]} ({len(seen['errors'])})")
        got = exact(made[-1], expected)
        print(f"  alias swap: {seen['queries']} queries, min hits {seen['min']} >= {floor}; "
              f"{len(got)} documents in {made[-1]}; indexes {alias_indexes(alias)}", flush=True)
    finally:
        stop.set()
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 3. kill -9 during a reindex
def kill9_reindex(t, kills, chunk, concurrency, rate):
    """The body of the kill -9 tests (see test_reindex_survives_kill9)."""
    alias, first = f"{t}_live", f"{t}_v1"
    n = 20000
    preload(t, 1, n)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"{DB}.{t}": {"index": first, "alias": alias}}, reindex={"chunk_rows": 2000})
    expected = product_docs(t)
    w = Writer(t, n, protect=2000, seed=33)
    try:
        svc.start()
        svc.wait_listener()
        svc.wait_jobs(of_table(t), 60)
        check(svc.stop() == 0, "exit 0: " + svc.es.tail())
        svc.set_reindex(chunk_rows=chunk, max_rows_per_s=rate, concurrency=concurrency)
        svc.start()
        svc.wait_listener()
        job = svc.submit(f"{DB}.{t}")
        w.start()
        trail, v1, named = [], None, set()  # named: the job's index as the status showed it before each kill
        for k in range(kills):
            state = {}

            def advanced():
                js = [x for x in svc.jobs() if x["id"] == job["id"]]
                if not js:
                    return None
                state["j"] = js[0]
                if "start" not in state:
                    state["start"] = js[0]["rows"]
                check(js[0]["state"] not in TERMINAL, f"the job ended before kill {k + 1}: {brief(js)}")
                return js[0]["rows"] >= state["start"] + 3 * chunk and js[0]["state"] == "loading"
            poll(advanced, 60, f"the job's rows to advance before kill {k + 1}", interval=0.1)
            trail.append((state["start"], state["j"]["rows"], state["j"].get("resumes"),
                          svc.reindex_rows_metric()))
            named.add(state["j"]["index"])
            if k == 0:
                check(load_settings_left(state["j"]["index"]) == {"index.refresh_interval": "-1",
                                                                 "index.gc_deletes": "24h"},
                      f"load settings while loading: {load_settings_left(state['j']['index'])}")
            if v1 is None and state["start"] >= 3 * chunk:  # row 1's chunk (after moved-down rows) is saved
                v1 = raw_doc(state["j"]["index"], "1")[1]
            svc.kill9()
            svc.start()
            svc.wait_listener()
        j = svc.wait_jobs(lambda x: x["id"] == job["id"], 120)[0]
        w.finish()
        final_metric = svc.reindex_rows_metric()
        common_checks(svc, j, "alias", "request", n // 2)
        check(named == {j["index"]}, f"the same index after the kills: {named} vs {brief([j])}")
        check(j["resumes"] >= 1, f"resumes: {brief([j])}")
        starts = [s for s, _, _, _ in trail]
        check(all(b >= a for a, b in zip(starts, starts[1:])) and starts[-1] > 0,
              f"rows after each restart must not go back to zero: (start, at kill, resumes, metric) {trail}")
        for (_, at_kill, _, _), (s, _, _, _) in zip(trail, trail[1:]):
            check(s >= at_kill - (2 * concurrency + 3) * chunk,
                  f"after a restart the job's rows fell from {at_kill} (at the kill) to {s}: more than the "
                  f"unsaved chunks in flight; {trail}")
        check(alias_targets(alias) == {j["index"]: True}, f"alias: {alias_targets(alias)}")
        check(not load_settings_left(j["index"]), f"load settings put back: {load_settings_left(j['index'])}")
        got = exact(j["index"], expected)
        if v1 is not None:
            v_end = raw_doc(j["index"], "1")[1]
            check(v_end == v1, f"row 1 was written again after its chunk was saved: version {v1} -> {v_end}")
        if final_metric is not None:
            check(final_metric < n, f"the last process wrote {final_metric} snapshot rows of {n}: loaded from zero")
        print(f"  kill -9 (concurrency {concurrency}): {brief([j])}; "
              f"(rows at restart, rows at kill, resumes, rows metric) {trail}; "
              f"final process metric {final_metric}; row 1 version {'checked' if v1 else 'not checked'}; "
              f"{len(got)} documents", flush=True)
    finally:
        w.stop_ev.set()
        svc.stop()

def test_reindex_survives_kill9():
    """An alias reindex of 20 000 rows (chunk_rows = 200, max_rows_per_s = 2000: >= 10 s) with a writer changing
    rows above id 2000; canal-es is killed with SIGKILL five times, each time after the job's rows advanced
    by 600 since the restart. Then the job ends done under the same id and index, resumes >= 1, the alias
    points to it and it equals the table exactly. Not loaded from zero: the job's rows after each restart
    start at or above the previous restart's, and the document of row 1 (first chunk, never written to) keeps
    the version it had once the first chunk was saved (a re-read chunk would carry a higher position)."""
    kill9_reindex("ri_kill", kills=5, chunk=200, concurrency=1, rate=2000)


def test_reindex_survives_kill9_concurrent():
    """As test_reindex_survives_kill9 with [reindex] concurrency = 4 and chunk_rows = 100 (requests of several
    chunks in flight at each kill: a chunk saved before an earlier one has all its results would lose rows),
    three kills."""
    kill9_reindex("ri_killc", kills=3, chunk=100, concurrency=4, rate=3000)


# ------------------------------------------------------------------ 4. every type
def test_reindex_every_type_equals_stream():
    """The table of every MySQL type (test_every_type's plus t_snapshot's FLOAT/DOUBLE/TIMESTAMP/BIT edge rows),
    twice: rows of `A` inserted without binlog before the start (only the initial load can index them), the
    same statements on twin `B` after the start (only the stream can). The same statements in the same
    session settings give both tables the same row states, so with the same rule shape (convert, rename,
    add_field, routing) each snapshot document of A must be byte-equal (raw _source bytes of GET by id) to
    the stream document of B with the same id."""
    from run import ALLTYPES_DDL, ALLTYPES_ROWS, alltypes_mapping
    a, b = "ri_types_a", "ri_types_b"
    # row 1's JSON mixes numbers and objects in one array: no dynamic mapping holds it, so j is not indexed
    mapping = alltypes_mapping()
    mapping["mappings"]["dynamic"] = True
    for t in (a, b):
        sql(ALLTYPES_DDL.format(db=DB, t=t) + ";")
        delete_index(t)
        http("PUT", f"/{t}", mapping)
    rows = lambda t: ALLTYPES_ROWS.replace("{db}", DB).replace("{t}", t) + FLOAT_ROWS.format(db=DB, t=t)  # noqa
    sql("SET SESSION sql_log_bin = 0;\n" + rows(a))
    rule = {"convert": "bin:base64, vb:base64, bt:base64, j:json", "rename": "vc:vc_renamed",
            "add_field": "origin:mysql", "routing": "id"}
    svc = Svc({f"{DB}.{a}": dict(rule, index=a), f"{DB}.{b}": dict(rule, index=b)})
    svc.start()
    try:
        svc.wait_listener()
        svc.wait_jobs(of_table(a), 60)
        sql(rows(b))
        ids = [str(i) for i in (1, 2, 3, 10, 11, 12, 13, 14, 15, 16)]
        poll(lambda: sorted(index_docs(b), key=int) == ids, 60, f"the stream to index {b}")
        check(sorted(index_docs(a), key=int) == ids, f"{a}: {sorted(index_docs(a))}")
        bad = []
        for i in ids:
            sa, _ = raw_doc(a, i, routing=i)
            sb, _ = raw_doc(b, i, routing=i)
            if sa != sb:
                bad.append(f"row {i}:\n  snapshot {sa}\n  stream   {sb}")
        check(not bad, "snapshot vs stream documents differ:\n" + "\n".join(bad))
    finally:
        svc.stop()


# ------------------------------------------------------------------ 5. composite key
def test_reindex_composite_key():
    """A (INT, VARCHAR) primary key, 24 000 rows in groups of 40 per `a` with non-ASCII and quoted `b` values,
    chunk_rows = 700 (chunk boundaries fall inside groups): the initial load is exact, every document with the
    version of the binlog position (nothing written meanwhile) minus one; a restart does not
    load again (versions unchanged); POST /reindex on this rule without alias reloads in place (higher
    versions), exact."""
    t = "ri_pairs"
    sql(f"CREATE TABLE `{DB}`.`{t}` (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b)) "
        f"DEFAULT CHARSET=utf8mb4;")
    delete_index(t)
    bs = [f"k{j:02d}" for j in range(34)] + ["é", "中", "it''s", "q`q", "Z", " lead"]
    for lo in range(0, 600, 150):
        vals = ",".join(f"({x}, '{s}', {x * 100 + m})" for x in range(lo, lo + 150) for m, s in enumerate(bs))
        sql(f"SET SESSION sql_log_bin = 0; INSERT INTO `{DB}`.`{t}` VALUES {vals};")
    svc = Svc({f"{DB}.{t}": {"index": t}}, reindex={"chunk_rows": 700})
    expected = lambda: rows_as_docs(DB, t, ["a", "v"], ["b"], ["a", "b"])  # noqa: E731
    svc.start()
    try:
        svc.wait_listener()
        j = svc.wait_jobs(of_table(t), 60)[0]
        common_checks(svc, j, "in_place", "initial", 24000)
        got = exact(t, expected)
        check(len(got) == 24000, f"{len(got)} documents")
        v = {k: raw_doc(t, k)[1] for k in ("0_k00", "599_ lead", "300_中")}
        f, pos = sql("SHOW MASTER STATUS;")[0].split("\t")[:2]  # nothing was written since the load began
        want_v = (int(f.rsplit(".", 1)[1]) << 33 | int(pos)) - 1
        check(set(v.values()) == {want_v}, f"snapshot version = version of the binlog position {f}:{pos} minus one "
                                           f"({want_v}): {v}")
        check(svc.stop() == 0, "exit 0: " + svc.es.tail())
        svc.start()
        svc.wait_listener()
        sql(f"UPDATE `{DB}`.`{t}` SET v = -1 WHERE a = 1 AND b = 'k01';")
        poll(lambda: raw_doc(t, "1_k01")[0].find('"v":-1') >= 0, 60, "the stream after the restart")
        check({k: raw_doc(t, k)[1] for k in v} == v, "a restart must not load again (versions changed)")
        exact(t, expected)
        job = svc.submit(f"{DB}.{t}")  # a rule without alias: reloaded in place, every row read at a new position
        j = svc.wait_jobs(lambda x: x["id"] == job["id"], 60)[0]
        common_checks(svc, j, "in_place", "request", 24000)
        check(j["index"] == t, f"in place: {brief([j])}")
        v2 = {k: raw_doc(t, k)[1] for k in v}
        check(all(v2[k] > v[k] for k in v), f"every row written again with a higher version: {v} -> {v2}")
        exact(t, expected)
    finally:
        svc.stop()


# ------------------------------------------------------------------ 6. sharded tables, regex rule
def test_reindex_regex_shards():
    """[table /DB\\.ri_shard_[0-9]+/] with id_prefix {table}: into one index: the initial load covers every
    matched table (3 x 8 000 rows; ri_shard_x does not match and stays out), exact."""
    shards = ["ri_shard_1", "ri_shard_2", "ri_shard_10"]
    index = "ri_shards"
    for k, t in enumerate(shards + ["ri_shard_x"]):
        preload(t, k * 100000 + 1, 8000)
    delete_index(index)
    svc = Svc({f"/{DB}\\.ri_shard_[0-9]+/": {"index": index, "id_prefix": "{table}:"}}, reindex={"chunk_rows": 900})

    def expected():
        docs = {}
        for t in shards:
            docs.update({f"{t}:{k}": d for k, d in product_docs(t)().items()})
        return docs
    svc.start()
    try:
        svc.wait_listener()
        js = svc.wait_jobs(lambda j: True, 90)
        sql(f"UPDATE `{DB}`.`ri_shard_2` SET qty = 77 WHERE id = 100001;")
        got = exact(index, expected)
        check(len(got) == 24000, f"{len(got)} documents: {brief(js)}")
        print(f"  shards: {brief(js)}", flush=True)
    finally:
        svc.stop()


def test_reindex_regex_shards_alias_swap():
    """A regex rule with alias over 3 shard tables (5 000 rows each, chunk_rows = 700): POST /reindex with one
    shard's name reindexes the whole rule while a writer changes rows of one shard (inserts, updates,
    deletes, key moves); every shard is loaded before the swap, and the new index equals all shards."""
    shards = ["ri_ashard_1", "ri_ashard_2", "ri_ashard_3"]
    alias, first = "ri_ashards_live", "ri_ashards_v1"
    for k, t in enumerate(shards):
        preload(t, k * 100000 + 1, 5000)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"/{DB}\\.ri_ashard_[0-9]+/": {"index": first, "alias": alias, "id_prefix": "{table}:"}},
              reindex={"chunk_rows": 700})

    def expected():
        docs = {}
        for t in shards:
            docs.update({f"{t}:{k}": d for k, d in product_docs(t)().items()})
        return docs
    w = Writer(shards[1], 105000, protect=100001, seed=66, new_base=150000)
    try:
        svc.start()
        svc.wait_listener()
        svc.wait_jobs(lambda j: True, 60)
        exact(alias, expected)
        w.start()
        job = svc.submit(f"{DB}.{shards[0]}")
        j = svc.wait_jobs(lambda x: x["id"] == job["id"], 90)[0]
        w.finish()
        # shards 1 and 3 are read whole; shard 2 loses rows the writer deletes or moves below the read key
        # before its chunks are read (the stream tees those): the exact comparison below is what counts
        common_checks(svc, j, "alias", "request", 10000)
        check(alias_targets(alias) == {j["index"]: True}, f"alias: {alias_targets(alias)}")
        got = exact(j["index"], expected)
        print(f"  regex alias swap: {brief([j])}; {len(got)} documents", flush=True)
    finally:
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 7. no usable key
def test_reindex_table_without_key_fails():
    """A rule for a table without primary key and without NOT NULL unique key (id = a): its initial job fails
    with an error naming the table, in the status and the log; the other table's load is done and the
    stream keeps indexing both tables. After a restart the failed load runs (and fails) again, the
    completed one does not."""
    bad, good = "ri_nokey", "ri_keyed"
    sql(f"CREATE TABLE `{DB}`.`{bad}` (a INT NULL, b INT, UNIQUE KEY uk (a)); "
        f"SET SESSION sql_log_bin = 0; INSERT INTO `{DB}`.`{bad}` VALUES (1, 1), (2, 2);")
    delete_index(bad)
    preload(good, 1, 3000)
    svc = Svc({f"{DB}.{bad}": {"index": bad, "id": "a"}, f"{DB}.{good}": {"index": good}})
    svc.start()
    try:
        svc.wait_listener()
        j = svc.wait_jobs(of_table(bad), 60, want=("failed",))[0]
        check(f"{DB}.{bad}" in (j.get("error") or ""), f"the error names the table: {brief([j])}")
        check(f"{DB}.{bad}" in svc.es.log_text() and "key" in j["error"], f"the log names it: {svc.es.tail(10)}")
        svc.wait_jobs(of_table(good), 60)
        sql(f"INSERT INTO `{DB}`.`{bad}` VALUES (3, 3); INSERT INTO `{DB}`.`{good}` VALUES {product_rows(9001, 2)};")
        poll(lambda: "3" in index_docs(bad), 60, f"the stream indexing {bad}")
        exact(good, product_docs(good))
        check(svc.es.alive(), "still running: " + svc.es.tail())
        check(svc.stop() == 0, "exit 0: " + svc.es.tail())
        svc.start()
        svc.wait_listener()
        again = svc.wait_jobs(of_table(bad), 60, want=("failed",))
        check(not [x for x in svc.jobs() if of_table(good)(x)], f"{good}'s completed load is not repeated: "
                                                                f"{brief(svc.jobs())}")
        check(all(f"{DB}.{bad}" in (x.get("error") or "") for x in again),
              f"a failed initial load runs again at the next start (and fails again): {brief(svc.jobs())}")
        print(f"  no key: {j.get('error')}; after a restart: {brief(svc.jobs())}", flush=True)
    finally:
        svc.stop()


def test_reindex_wrong_mysql_password_fails_job():
    """A wrong [mysql] password: the initial load fails with the server's message and the hint, never the
    password; ASCII-only rows keep streaming; a row with non-ASCII text makes the stream wait (the charset
    check of docs/type-mapping.md must read information_schema first: the stream retries, logged with the
    same hint, rather than index text it cannot vouch for). After the password is fixed and a restart, the
    waiting row, the rows after it and the failed load all arrive: exact."""
    t = "ri_badpw"
    preload(t, 1, 2000)
    svc = Svc({f"{DB}.{t}": {"index": t}})
    good_env = svc.es.env
    svc.es.env = dict(good_env, IT_MYSQL_PASSWORD="wrong-sekrit-pw")
    svc.start()
    row = "({}, 'plain {}', 1, 1.00, {}, '2024-01-01 00:00:00', 0)"
    try:
        svc.wait_listener()
        j = svc.wait_jobs(of_table(t), 60, want=("failed",))[0]
        err = j.get("error") or ""
        check("check [mysql] user and password" in err, f"the error says what to check: {brief([j])}")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES " + row.format(5001, 5001, "'ascii only'") + ";")
        poll(lambda: "5001" in index_docs(t), 60, "an ASCII row streamed without the load")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES " + row.format(5002, 5002, "'中文'") + ";")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES " + row.format(5003, 5003, "NULL") + ";")
        poll(lambda: re.search(r"WARN .*Access denied.*check \[mysql\] user and password\); retrying",
                               svc.es.log_text()), 60, "the stream waiting on [mysql], with the hint")
        check("5002" not in index_docs(t), "the non-ASCII row waits for [mysql]")
        check("wrong-sekrit-pw" not in svc.es.log_text() + json.dumps(svc.jobs()), "the password is never shown")
        svc.kill9()  # a stop would wait shutdown_timeout_ms for the batch in hand; it is not acked either way
        svc.es.env = good_env
        svc.start()
        svc.wait_listener()
        svc.wait_jobs(of_table(t), 60)
        exact(t, product_docs(t))
        print(f"  wrong password: {err}", flush=True)
    finally:
        svc.stop()


# ------------------------------------------------------------------ 8. lock_tables under writes
def test_reindex_lock_tables_under_writes():
    """[reindex] position = lock_tables (the MySQL method) forced on MariaDB: initial load of 20 000 rows
    (chunk_rows = 400, max_rows_per_s = 5000) while a writer inserts, updates, deletes and moves keys: exact."""
    t = "ri_locks"
    n = 20000
    preload(t, 1, n)
    svc = Svc({f"{DB}.{t}": {"index": t}}, reindex={"position": "lock_tables", "chunk_rows": 400,
                                                  "max_rows_per_s": 5000})
    w = Writer(t, n, seed=88)
    svc.start()
    try:
        svc.wait_listener()
        w.start()
        j = svc.wait_jobs(of_table(t), 60)[0]
        during = w.count
        w.finish()
        check(during >= 100, f"only {during} writes during the job")
        common_checks(svc, j, "in_place", "initial", n // 2)
        got = exact(t, product_docs(t))
        check("lock_tables" in svc.es.log_text(), "the log names the position method: " + svc.es.tail(10))
        print(f"  lock_tables: {len(got)} documents, {during} writes during the job; {brief([j])}", flush=True)
    finally:
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 9. DDL stops an alias job
def test_reindex_ddl_stops_alias_job():
    """An alias reindex (20 000 rows, chunk_rows = 200, max_rows_per_s = 2000) and an ALTER TABLE ADD COLUMN
    once it loaded 1 000 rows: the job fails with an error naming the DDL, its new index is deleted, the
    alias still points to the old index, and the stream keeps indexing into it."""
    t = "ri_ddl"
    alias, first = "ri_ddl_live", "ri_ddl_v1"
    n = 20000
    preload(t, 1, n)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"{DB}.{t}": {"index": first, "alias": alias}}, reindex={"chunk_rows": 200, "max_rows_per_s": 2000})
    svc.start()
    try:
        svc.wait_listener()
        svc.wait_jobs(of_table(t), 60)
        job = svc.submit(f"{DB}.{t}")
        poll(lambda: [x for x in svc.jobs() if x["id"] == job["id"] and x["rows"] >= 1000 and
                      x["state"] == "loading"], 60, "the job to load 1000 rows")
        new = job.get("index") or [x for x in svc.jobs() if x["id"] == job["id"]][0]["index"]
        check(index_exists(new), f"the new index {new} exists while loading")
        sql(f"ALTER TABLE `{DB}`.`{t}` ADD COLUMN extra INT NULL;")
        j = svc.wait_jobs(lambda x: x["id"] == job["id"], 60, want=("failed",))[0]
        err = j.get("error") or ""
        check(re.search(r"ddl|alter", err, re.I), f"the error names the DDL: {brief([j])}")
        check(alias_targets(alias) == {first: True}, f"alias still on {first}: {alias_targets(alias)}")
        poll(lambda: not index_exists(new), 30, f"the new index {new} to be deleted")
        sql(f"UPDATE `{DB}`.`{t}` SET qty = 4242, extra = 7 WHERE id = 5;")
        poll(lambda: index_docs(alias).get("5", {}).get("extra") == 7, 60, "the stream after the failed job")
        print(f"  ddl: {err}", flush=True)
    finally:
        svc.stop()


# ------------------------------------------------------------------ 10. in place: kill -9 and DDL
def test_reindex_in_place_kill9_and_ddl():
    """An initial load in place (20 000 rows, chunk_rows = 200, max_rows_per_s = 2000) under a writer:
    kill -9 twice while it loads (it resumes, same job id), then ALTER TABLE ADD COLUMN extra (DEFAULT 5)
    while it loads: an in-place job starts again from the first row, so every document ends with `extra`
    (rows the first pass had loaded without it and the writer never touched included); exact."""
    t = "ri_inplace"
    n, chunk = 20000, 200
    preload(t, 1, n)
    svc = Svc({f"{DB}.{t}": {"index": t}}, reindex={"chunk_rows": chunk, "max_rows_per_s": 2000})
    w = Writer(t, n, seed=101)
    expected = lambda: rows_as_docs(DB, t, ["id", "qty", "flag", "extra"], PRODUCT_OTHERS, ["id"])  # noqa: E731
    svc.start()
    try:
        svc.wait_listener()
        w.start()
        trail = []
        for k in range(3):
            state = {}

            def advanced():
                js = [x for x in svc.jobs() if x["origin"] == "initial"]
                if not js:
                    return None
                state["j"] = js[0]
                state.setdefault("start", js[0]["rows"])
                check(js[0]["state"] not in TERMINAL, f"the job ended before step {k + 1}: {brief(js)}")
                return js[0]["rows"] >= state["start"] + 3 * chunk and js[0]["state"] == "loading"
            poll(advanced, 60, f"the job's rows to advance before step {k + 1}", interval=0.1)
            trail.append((state["j"]["id"], state["start"], state["j"]["rows"], state["j"]["resumes"]))
            if k == 0:
                check("index.gc_deletes" in load_settings_left(t), f"gc_deletes raised while loading: "
                                                                   f"{load_settings_left(t)}")
            if k < 2:
                svc.kill9()
                svc.start()
                svc.wait_listener()
            else:
                sql(f"ALTER TABLE `{DB}`.`{t}` ADD COLUMN extra INT NULL DEFAULT 5;")
        j = svc.wait_jobs(lambda x: x["origin"] == "initial", 120)[0]
        during = w.finish()
        check(len({i for i, _, _, _ in trail} | {j["id"]}) == 1 and j["resumes"] >= 2,
              f"one job, resumed twice: {trail} {brief([j])}")
        check(trail[1][1] > 0 and trail[2][1] >= trail[1][1], f"resumed, not from zero: (id, rows at restart, "
                                                              f"rows, resumes) {trail}")
        got = exact(t, expected)
        check(all("extra" in d for d in got.values()), "every document has the new column")
        check(not load_settings_left(t), f"gc_deletes put back after the kills: {load_settings_left(t)}")
        print(f"  in place kill/ddl: {during} writes; {trail}; {brief([j])}; {len(got)} documents", flush=True)
    finally:
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 11. kill -9 at the end of an alias job
def test_reindex_kill9_near_swap():
    """Alias reindex of 6 000 rows under a writer (inserts, updates, deletes, key moves), three rounds: each
    round kills canal-es with SIGKILL as soon as GET /reindex (polled every 20 ms) shows the job past its last
    chunk (catching_up or swapping) or done, restarts it and waits for the job: done, the alias on exactly one
    index (the job's, write index), which equals the table exactly. The states the kills hit are printed."""
    t = "ri_endkill"
    alias, first = "ri_endkill_live", "ri_endkill_v1"
    n = 6000
    preload(t, 1, n)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"{DB}.{t}": {"index": first, "alias": alias}}, reindex={"chunk_rows": 500})
    expected = product_docs(t)
    w = Writer(t, n, seed=111)
    hit = []
    try:
        svc.start()
        svc.wait_listener()
        svc.wait_jobs(of_table(t), 60)
        w.start()
        for r in range(3):
            job = svc.submit(f"{DB}.{t}")

            def late():
                js = [x for x in svc.jobs() if x["id"] == job["id"]]
                return js[0] if js and js[0]["state"] in ("catching_up", "swapping", "done", "failed") else None
            j = poll(late, 60, f"round {r + 1}: the job past its last chunk", interval=0.02)
            svc.kill9()
            hit.append(j["state"])
            svc.start()
            svc.wait_listener()
            j = svc.wait_jobs(lambda x: x["id"] == job["id"], 60)
            targets = alias_targets(alias)
            check(targets == {j[0]["index"]: True}, f"round {r + 1} (killed in {hit[-1]}): alias {targets}, job "
                                                    f"{brief(j)}")
            stamp = j[0]["index"][-14:]  # the next job's index name has a one-second resolution
            poll(lambda: time.strftime("%Y%m%d%H%M%S", time.gmtime()) != stamp, 5, "the next second")
        w.finish()
        got = exact(alias, expected)
        print(f"  kill near swap: states at the kills {hit}; {len(got)} documents", flush=True)
    finally:
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 12. deletes chasing the chunk cursor
def test_reindex_deletes_behind_the_cursor():
    """Deletes aimed at the rows being read: while a job loads (chunk_rows = 500, max_rows_per_s = 3000), a
    thread reads the job's rows R from GET /reindex every 20 ms and deletes 5 ids just past R (the chunk in
    flight or the next one), so some deletes reach the node before the chunk that still held the row (the
    tombstone / job_note_delete case). Once for the initial load in place, once for an alias reindex: no
    deleted row comes back; exact."""
    t = "ri_chase"
    alias, first = "ri_chase_live", "ri_chase_v1"
    n = 15000
    preload(t, 1, n)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"{DB}.{t}": {"index": first, "alias": alias}}, reindex={"chunk_rows": 500, "max_rows_per_s": 3000})
    expected = product_docs(t)
    stop = threading.Event()
    done = {"deletes": 0, "errors": []}

    def chaser(match, offset):
        rnd = random.Random(5)
        try:
            while not stop.is_set():
                js = [x for x in svc.jobs() if match(x) and x["state"] == "loading"]
                if js:
                    r = js[0]["rows"] - offset
                    ids = ",".join(str(r + rnd.randint(1, 700)) for _ in range(5))
                    sql(f"DELETE FROM `{DB}`.`{t}` WHERE id IN ({ids});")
                    done["deletes"] += 5
                stop.wait(0.02)  # pacing of the chaser, not a wait for a result
        except (TestFailure, urllib.error.URLError, OSError) as e:
            if not stop.is_set():
                done["errors"].append(repr(e))
    try:
        svc.start()
        th = threading.Thread(target=chaser, args=(lambda x: x["origin"] == "initial", 0), daemon=True)
        svc.wait_listener()
        th.start()
        svc.wait_jobs(of_table(t), 60)
        stop.set()
        th.join(timeout=30)
        first_deletes = done["deletes"]
        exact(alias, expected)
        before = int(sql(f"SELECT COUNT(*) FROM `{DB}`.`{t}`;")[0])
        stop.clear()
        job = svc.submit(f"{DB}.{t}")
        # the alias job reads the table in key order from its smallest id: rows R is R rows past it
        offset = -int(sql(f"SELECT MIN(id) FROM `{DB}`.`{t}`;")[0]) + 1
        th = threading.Thread(target=chaser, args=(lambda x: x["id"] == job["id"], offset), daemon=True)
        th.start()
        j = svc.wait_jobs(lambda x: x["id"] == job["id"], 60)[0]
        stop.set()
        th.join(timeout=30)
        check(not done["errors"], f"chaser: {done['errors']}")
        check(first_deletes >= 20 and done["deletes"] - first_deletes >= 20,
              f"too few deletes during the jobs: {first_deletes}, {done['deletes'] - first_deletes}")
        check(alias_targets(alias) == {j["index"]: True}, f"alias: {alias_targets(alias)}")
        got = exact(alias, expected)
        print(f"  chase: {first_deletes} deletes during the initial load, {done['deletes'] - first_deletes} "
              f"during the reindex ({before} -> {len(got)} rows)", flush=True)
    finally:
        stop.set()
        svc.stop()


# ------------------------------------------------------------------ 13. TRUNCATE during an in-place load
def truncate_during_load(t, refresh):
    n = 15000
    preload(t, 1, n)
    svc = Svc({f"{DB}.{t}": {"index": t}}, reindex={"chunk_rows": 500, "max_rows_per_s": 3000})
    svc.start()
    try:
        svc.wait_listener()
        poll(lambda: [x for x in svc.jobs() if x["rows"] >= 1000 and x["state"] == "loading"], 60,
             "the load to reach 1000 rows")
        if refresh:
            http("PUT", f"/{t}/_settings", {"index": {"refresh_interval": refresh}})
        poll(lambda: [x for x in svc.jobs() if x["rows"] >= 3000 and x["state"] == "loading"], 60,
             "the load to reach 3000 rows")
        sql(f"TRUNCATE TABLE `{DB}`.`{t}`; INSERT INTO `{DB}`.`{t}` VALUES {product_rows(n + 1, 10)};")
        j = svc.wait_jobs(of_table(t), 60, want=("done", "failed"))[0]
        try:
            got = exact(t, product_docs(t), timeout=30)
        except TestFailure as e:
            lines = [x[:220] for x in svc.es.log_text().splitlines() if "TRUNCATE" in x or "job 1" in x]
            raise TestFailure(f"{e}; job {brief([j])}; log: {lines[-4:]}")
        check(len(got) == 10, f"{len(got)} documents")
        print(f"  truncate (refresh_interval {refresh}): job {brief([j])}", flush=True)
    finally:
        svc.stop()


def test_reindex_truncate_during_in_place_load():
    """TRUNCATE of the table while its initial load runs in place (15 000 rows, chunk_rows = 500,
    max_rows_per_s = 3000, TRUNCATE once 3 000 rows are loaded), then 10 new rows: the stream deletes the
    table's documents (on_truncate = delete) and no chunk read before the TRUNCATE may leave a document
    behind (an in-place job starts again on DDL): the index ends with exactly the 10 rows. Run with the
    index's default refresh and with refresh_interval = 50ms (which keeps the stream's TRUNCATE problem of
    test_reindex_stream_truncate_after_inserts mostly out of the way, leaving the job's part: chunks read
    before the TRUNCATE and delivered while the stream's _delete_by_query runs survive it, and the job's
    restart reads the emptied table again but never deletes them)."""
    need_delete_by_query()
    truncate_during_load("ri_trunc", None)


def test_reindex_truncate_during_in_place_load_fast_refresh():
    """test_reindex_truncate_during_in_place_load with the index refreshed every 50 ms."""
    need_delete_by_query()
    truncate_during_load("ri_trunc_fr", "50ms")


def test_reindex_stream_truncate_after_inserts():
    """Not the job engine, found by the test above: 500 rows inserted and the table TRUNCATEd right after (no
    [mysql], stream only): on_truncate = delete must leave no document of the table. _delete_by_query only
    sees documents the node has refreshed, so the inserts of the last second survive unless canal-es
    refreshes the index before it."""
    need_delete_by_query()
    t = "ri_strunc"
    sql(PRODUCT_DDL.format(db=DB, t=t) + ";")
    delete_index(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}).start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 5)};")
        poll(lambda: len(index_docs(t)) == 5, 60, "5 documents")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(100, 500)}; TRUNCATE TABLE `{DB}`.`{t}`; "
            f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(9000, 1)};")
        poll(lambda: "9000" in index_docs(t), 60, "the row after the TRUNCATE")
        got = index_docs(t)
        line = [x for x in es.log_text().splitlines() if "TRUNCATE of" in x]
        check(set(got) == {"9000"}, f"{len(got)} documents after INSERT 500 + TRUNCATE + INSERT 1 (want 1); "
                                    f"log: {line[-1][:200] if line else None}")
    finally:
        es.stop()


# ------------------------------------------------------------------ 14. DDL after the last chunk of an alias job
def test_reindex_ddl_after_last_chunk():
    """An alias reindex (6 000 rows, chunk_rows = 500; a writer on another table moves the binlog on) and an
    ALTER TABLE ADD COLUMN the moment GET /reindex (polled every 10 ms) shows the job past its last chunk
    (catching_up), then an UPDATE of rows 1..50 setting the new column. Either outcome is right, depending on
    whether the stream reached the ALTER before the job swapped: failed (alias unchanged, new index deleted)
    or done (alias on the new index); in both the alias must end on one index that equals the table (rows
    1..50 with the new column, the others as loaded). (A TRUNCATE is no test here: the stream never applies
    a TRUNCATE to an alias rule's index, it warns that the alias may hold other tables.)"""
    t = "ri_lddl"
    alias, first = f"{t}_live", f"{t}_v1"
    other = f"{t}_other"
    preload(t, 1, 6000)
    preload(other, 1, 10)
    for x in [first] + alias_indexes(alias):
        delete_index(x)
    svc = Svc({f"{DB}.{t}": {"index": first, "alias": alias}, f"{DB}.{other}": {"index": other}},
              reindex={"chunk_rows": 500})
    w = Writer(other, 10, ops=("update",), seed=7)
    try:
        svc.start()
        svc.wait_listener()
        svc.wait_jobs(of_table(t), 60)
        w.start()
        job = svc.submit(f"{DB}.{t}")

        def late():
            js = [x for x in svc.jobs() if x["id"] == job["id"]]
            return js[0] if js and js[0]["state"] not in ("loading", "queued") else None
        j = poll(late, 60, "the job past its last chunk", interval=0.01)
        sql(f"ALTER TABLE `{DB}`.`{t}` ADD COLUMN extra INT NULL DEFAULT 5; "
            f"UPDATE `{DB}`.`{t}` SET extra = 7, qty = -1 WHERE id <= 50;")
        hit = j["state"]
        j = svc.wait_jobs(lambda x: x["id"] == job["id"], 60, want=("done", "failed"))[0]
        w.finish()
        targets = alias_targets(alias)
        print(f"  ALTER while {hit}: job {j['state']} ({j.get('error')}), alias {targets}", flush=True)
        if j["state"] == "failed":
            check(targets == {first: True} and re.search(r"ALTER", j.get("error") or ""),
                  f"a failed job leaves the alias: {brief([j])}, alias {targets}")
            poll(lambda: not index_exists(j["index"]), 30, f"the new index {j['index']} to be deleted")
        else:
            check(targets == {j["index"]: True}, f"a done job moved the alias: {brief([j])}, alias {targets}")

        def expected():
            docs = product_docs(t)()
            with_extra = {k: d for k, d in rows_as_docs(DB, t, ["id", "qty", "flag", "extra"], PRODUCT_OTHERS,
                                                        ["id"]).items() if 1 <= int(k) <= 50}
            docs.update(with_extra)
            return docs
        exact(alias, expected)
    finally:
        w.stop_ev.set()
        svc.stop()


# ------------------------------------------------------------------ 15. the stream's lag during a load
def test_reindex_stream_lag_during_load():
    """The stream keeps priority: while an initial load of 20 000 rows runs at full speed (no max_rows_per_s),
    a probe updates a row of another table every 100 ms and times until GET by id returns the new value.
    The slowest probe during the load stays under 10 s (the job waits while the lag is above
    max_stream_lag_ms = 5 s); p50/p95/max during and after the load are printed."""
    t, probe = "ri_lag", "ri_lag_probe"
    preload(t, 1, 20000)
    sql(f"CREATE TABLE `{DB}`.`{probe}` (id INT PRIMARY KEY, v INT NOT NULL); "
        f"INSERT INTO `{DB}`.`{probe}` VALUES (1, 0);")
    delete_index(probe)
    svc = Svc({f"{DB}.{t}": {"index": t}, f"{DB}.{probe}": {"index": probe}})
    stop = threading.Event()
    samples = {"loading": [], "after": []}

    def prober():
        k = 0
        while not stop.is_set():
            k += 1
            phase = "loading" if [x for x in svc.jobs() if of_table(t)(x) and x["state"] == "loading"] else (
                "after" if [x for x in svc.jobs() if of_table(t)(x) and x["state"] == "done"] else None)
            t0 = time.monotonic()
            sql(f"UPDATE `{DB}`.`{probe}` SET v = {k} WHERE id = 1;")
            poll(lambda: http("GET", f"/{probe}/_doc/1", ok=(200, 404, 503))[1].get("_source", {}).get("v") == k, 60,
                 f"probe {k}", interval=0.02)
            if phase:
                samples[phase].append(time.monotonic() - t0)
            stop.wait(0.1)  # pacing of the probe
    try:
        svc.start()
        svc.wait_listener()
        poll(lambda: http("GET", f"/{probe}/_doc/1", ok=(200, 404, 503))[0] == 200 or sql(
            f"UPDATE `{DB}`.`{probe}` SET v = 0 WHERE id = 1;") is None, 60, "the probe's index")
        th = threading.Thread(target=prober, daemon=True)
        th.start()
        j = svc.wait_jobs(of_table(t), 120)[0]
        poll(lambda: len(samples["after"]) >= 10, 60, "probes after the load")
        stop.set()
        th.join(timeout=60)

        def q(xs, f):
            xs = sorted(xs)
            return round(xs[min(len(xs) - 1, int(f * len(xs)))], 3) if xs else None
        fig = {ph: (len(xs), q(xs, 0.5), q(xs, 0.95), q(xs, 1.0)) for ph, xs in samples.items()}
        print(f"  stream lag (probes, p50, p95, max s): {fig}; job {brief([j])}", flush=True)
        check(samples["loading"] and max(samples["loading"]) < 10, f"probe latency during the load: {fig}")
        exact(t, product_docs(t))
    finally:
        stop.set()
        svc.stop()


TESTS = [test_reindex_initial_load_under_writes, test_reindex_alias_swap_under_queries, test_reindex_survives_kill9,
         test_reindex_survives_kill9_concurrent, test_reindex_every_type_equals_stream, test_reindex_composite_key,
         test_reindex_regex_shards, test_reindex_regex_shards_alias_swap, test_reindex_table_without_key_fails,
         test_reindex_wrong_mysql_password_fails_job, test_reindex_lock_tables_under_writes,
         test_reindex_ddl_stops_alias_job, test_reindex_in_place_kill9_and_ddl, test_reindex_kill9_near_swap,
         test_reindex_deletes_behind_the_cursor, test_reindex_stream_lag_during_load,
         test_reindex_truncate_during_in_place_load, test_reindex_truncate_during_in_place_load_fast_refresh,
         test_reindex_stream_truncate_after_inserts, test_reindex_ddl_after_last_chunk]
