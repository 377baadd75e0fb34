"""Integration-test harness: real MariaDB, real Canal server, real search node.

The stack comes from scripts/stack.sh (its KEY=VALUE lines are in the
environment). Nothing here is a mock: rows are written with the mariadb
client, documents are read back over the search node's REST API, and
canal-es runs as the real binary. Waiting is always polling with a deadline.
"""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ENV = os.environ


class TestFailure(AssertionError):
    pass


class TestSkipped(Exception):
    """The node lacks what the test needs (run.py counts it as skipped and prints the reason)."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def poll(fn, timeout, what, interval=0.2):
    """Calls fn() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (urllib.error.URLError, ConnectionError, OSError) as e:  # node busy: keep polling
            last = e
        if time.monotonic() >= deadline:
            raise TestFailure(f"timed out after {timeout}s waiting for {what} (last: {str(last)[:800]})")
        time.sleep(interval)  # poll interval, bounded by the deadline above


# ---------------------------------------------------------------- MariaDB
def sql(statements, db=None):
    """Runs SQL through the mariadb client; returns stdout lines (raw, no headers)."""
    cmd = ["mariadb", "--protocol=TCP", "-h", ENV["MYSQL_HOST"], "-P", ENV["MYSQL_PORT"],
           "-u", ENV["MYSQL_USER"], "--batch", "--raw", "--skip-column-names",
           "--default-character-set=utf8mb4"]
    if db:
        cmd += ["-D", db]
    env = dict(ENV, MYSQL_PWD=ENV["MYSQL_PASSWORD"])
    p = subprocess.run(cmd, input=statements.encode(), capture_output=True, env=env, timeout=300)
    if p.returncode != 0:
        raise TestFailure(f"SQL failed: {p.stderr.decode(errors='replace')[:500]}\n{statements[:300]}")
    return p.stdout.decode().splitlines()


def rows_as_docs(db, table, int_cols, other_cols, id_cols):
    """Reads every row as the document canal-es must produce: integer columns as
    numbers, everything else as the text MariaDB prints, NULL as null."""
    parts = []
    for c in int_cols:
        parts.append(f"'{c}', `{c}`")
    for c in other_cols:  # a name, or (name, SQL expression)
        if isinstance(c, tuple):
            parts.append(f"'{c[0]}', {c[1]}")
        else:
            parts.append(f"'{c}', CAST(`{c}` AS CHAR)")
    q = f"SELECT JSON_OBJECT({', '.join(parts)}) FROM `{db}`.`{table}`;"
    docs = {}
    for line in sql(q):
        d = json.loads(line)
        docs["_".join(str(d[c]) for c in id_cols)] = d
    return docs


# ---------------------------------------------------------------- search node
def http(method, path, body=None, ok=(200, 201)):
    url = ENV["ES_URL"].rstrip("/") + path
    data = None
    headers = {}
    if body is not None:
        data = json.dumps(body).encode() if not isinstance(body, (bytes, str)) else (
            body.encode() if isinstance(body, str) else body)
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    if ok is not None and status not in ok:
        raise TestFailure(f"{method} {path}: HTTP {status}: {text[:500]}")
    return status, (json.loads(text) if text else None)


def delete_index(name):
    http("DELETE", f"/{name}", ok=(200, 404))


# ---------------------------------------------------------------- what the node offers
# The embedded Elasticsearch 8 of the stack has only the server and its transport-netty4 module (Maven
# Central serves no other module of 8.x): no scaled_float (mapper-extras), no _delete_by_query (reindex),
# no unsigned_long (x-pack). Tests ask the node, as canal-es does, instead of going by its name.
_NODE = {}

# the error type of a document the node cannot parse (Elasticsearch 8.8+: document_parsing_exception)
PARSE_ERRORS = ("mapper_parsing_exception", "document_parsing_exception")


def node_has_type(t):
    """The node accepts a field of type t (the _index_template/_simulate probe of mapping = auto)."""
    if t not in _NODE:
        field = {"type": t, "scaling_factor": 100} if t == "scaled_float" else {"type": t}  # required there
        probe = {"index_patterns": ["canal-es-it-probe"], "template": {"mappings": {"properties": {"f": field}}}}
        st, _ = http("POST", "/_index_template/_simulate", probe, ok=None)
        _NODE[t] = st == 200
    return _NODE[t]


def node_has_delete_by_query():
    """The node serves _delete_by_query (its reindex module): 404 for a missing index, not 400 "no handler"."""
    if "_delete_by_query" not in _NODE:
        st, _ = http("POST", "/canal-es-it-no-such-index/_delete_by_query", {"query": {"match_all": {}}}, ok=None)
        _NODE["_delete_by_query"] = st == 404
    return _NODE["_delete_by_query"]


def need_delete_by_query():
    if not node_has_delete_by_query():
        raise TestSkipped("the node has no _delete_by_query (no reindex module); "
                          "test_truncate_and_drop checks that canal-es stops with the reason")


def index_docs(index):
    """Every document of the index as {_id: _source}, read with the scroll API."""
    status, _ = http("POST", f"/{index}/_refresh", ok=(200, 404))
    if status == 404:
        return {}
    docs = {}
    _, r = http("POST", f"/{index}/_search?scroll=1m", {"size": 5000, "sort": ["_doc"]})
    while True:
        hits = r["hits"]["hits"]
        if not hits:
            break
        for h in hits:
            docs[h["_id"]] = h["_source"]
        _, r = http("POST", "/_search/scroll", {"scroll": "1m", "scroll_id": r["_scroll_id"]})
    http("DELETE", "/_search/scroll", {"scroll_id": r["_scroll_id"]}, ok=(200, 404))
    return docs


def diff(expected, actual, limit=5):
    """A short description of how two {id: doc} maps differ, or '' when equal."""
    out = []
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    changed = [k for k in expected if k in actual and expected[k] != actual[k]]
    if missing:
        out.append(f"{len(missing)} missing (e.g. {missing[:limit]})")
    if extra:
        out.append(f"{len(extra)} unexpected (e.g. {extra[:limit]})")
    if changed:
        k = changed[0]
        out.append(f"{len(changed)} differ (e.g. {k}: expected {expected[k]} got {actual[k]})")
    return "; ".join(out)


def wait_in_sync(index, expected_fn, timeout=90):
    """Polls until the index holds exactly the expected documents."""
    state = {}

    def same():
        exp = expected_fn()
        act = index_docs(index)
        state["diff"] = diff(exp, act)
        return not state["diff"]

    try:
        poll(same, timeout, f"index {index} to equal MariaDB", interval=0.3)
    except TestFailure as e:
        raise TestFailure(f"{e}; difference: {state.get('diff')}")


# ---------------------------------------------------------------- canal-es
class CanalEs:
    """One canal-es process with its own INI file and log."""

    def __init__(self, binary, tables, batch_size=1000, password=None, extra_canal="", defaults=None):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="canal-es-it-")
        self.ini = os.path.join(self.dir, "canal-es.ini")
        self.log = os.path.join(self.dir, "canal-es.log")
        pw = ENV["CANAL_PASSWORD"] if password is None else password
        lines = [
            "[canal]",
            f"address = {ENV['CANAL_HOST']}:{ENV['CANAL_PORT']}",
            f"destination = {ENV['CANAL_DESTINATION']}",
            f"username = {ENV['CANAL_USER']}",
            "password = ${IT_CANAL_PASSWORD}",
            "client_id = 1001",
            f"batch_size = {batch_size}",
            "fetch_timeout_ms = 200",
            extra_canal,
            "",
            "[elasticsearch]",
            f"url = {ENV['ES_URL']}",
            "",
        ]
        if defaults:
            lines.append("[defaults]")
            lines += [f"{k} = {v}" for k, v in defaults.items()]
            lines.append("")
        for name, t in tables.items():
            lines.append(f"[table {name}]")
            lines += [f"{k} = {v}" for k, v in t.items()]
            lines.append("")
        with open(self.ini, "w") as f:
            f.write("\n".join(lines))
        self.env = dict(ENV, IT_CANAL_PASSWORD=pw)
        self.proc = None

    started = []  # every instance ever started: run.py kills what a failed test left running

    def start(self):
        CanalEs.started.append(self)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.binary, "run", "-c", self.ini], stdout=self.logf,
                                     stderr=subprocess.STDOUT, env=self.env)
        return self

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"canal-es did not exit within {timeout}s; log:\n{self.tail()}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        rc = self.wait_exit(timeout)
        self.logf.close()
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n=40):
        try:
            with open(self.log, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")
