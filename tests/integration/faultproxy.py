"""A fault-injecting HTTP/1.1 proxy between canal-es and the REAL search node.

canal-es's `[elasticsearch] url` points at FaultProxy.url; every request is
forwarded to the upstream node (ES_URL) over keep-alive connections, and every
success comes from that node: the proxy only ever takes something away (answers
an error, removes items, delays, drops, resets), never invents an applied item.

Rules are programmed from the test thread while the proxy serves canal-es from
its own threads (every method is thread-safe). A rule applies to the next
`count` matching requests (count=None: while it is in the list). The first rule
that matches a request is the only one applied to it.

    p = FaultProxy(os.environ["ES_URL"])
    p.fail_status(503, count=3)                      # whole request answered 503
    p.fail_status(429, count=1, retry_after=2)      # 429 with Retry-After: 2
    p.item_429(ids={"3", "7"}, count=1)              # those items answered 429, the rest forwarded
    p.item_429(first_k=5, count=2)                   # the first 5 items of a request
    p.delay(30, count=2)                             # held up to 30 s (rule.release() ends it), then forwarded
    p.drop(count=2)                                  # connection closed without an answer
    p.drop(count=2, mode="reset")                    # forwarded, then RST in the middle of the answer
    p.too_large(4000)                                # 413 for every _bulk body above 4000 bytes
    p.bulk_records()  # [Record(time, path, body, status, fault, injected, response, done)]
    p.close()

Per-item 429: the matched items are REMOVED from the body, the rest is
forwarded to the node, and a 429 item
{"<op>":{"_index":…,"_id":…,"status":429,"error":{"type":"es_rejected_execution_exception",
"reason":"injected"}}} is spliced into the node's answer at the position of
each removed item, so the items stay in request order, one per action.

self_test() checks the NDJSON parsing and the splice logic without a network.
"""
import http.client
import io
import http.server
import json
import socket
import struct
import threading
import time
import urllib.parse

__all__ = ["FaultProxy", "Rule", "Record", "parse_bulk", "build_body", "splice_items", "self_test"]

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length", "host", "expect"}


# ---------------------------------------------------------------- NDJSON
def parse_bulk(body):
    """Splits a `_bulk` body into actions: a list of (op, meta, raw) where raw holds
    the action line and, unless op is `delete`, the document line, each ending in \\n."""
    lines = [ln for ln in bytes(body).split(b"\n") if ln.strip()]
    out = []
    i = 0
    while i < len(lines):
        head = json.loads(lines[i])
        if not isinstance(head, dict) or len(head) != 1:
            raise ValueError(f"bulk line {i + 1} is not an action line: {lines[i][:200]!r}")
        op, meta = next(iter(head.items()))
        if op not in ("index", "create", "delete", "update"):
            raise ValueError(f"bulk line {i + 1}: unknown action {op!r}")
        raw = lines[i] + b"\n"
        i += 1
        if op != "delete":
            if i >= len(lines):
                raise ValueError(f"bulk action {op} {meta.get('_id')!r} has no document line")
            raw += lines[i] + b"\n"
            i += 1
        out.append((op, meta, raw))
    return out


def action_ids(body):
    """The `_id` of every action of a `_bulk` body, in order (as strings)."""
    return [str(meta.get("_id")) for _, meta, _ in parse_bulk(body)]


def build_body(actions):
    return b"".join(raw for _, _, raw in actions)


def injected_item(op, meta, status=429):
    return {op: {"_index": meta.get("_index"), "_id": meta.get("_id"), "status": status,
                 "error": {"type": "es_rejected_execution_exception", "reason": "injected"}}}


def splice_items(actions, removed, real_items):
    """The items of the answer to `actions` when the positions in `removed` were
    taken out of the request and `real_items` is the node's answer to the rest:
    an injected 429 at every removed position, the real items in order elsewhere."""
    removed = set(removed)
    kept = len(actions) - len(removed)
    if len(real_items) != kept:
        raise ValueError(f"the node answered {len(real_items)} items for {kept} forwarded actions")
    out = []
    real = iter(real_items)
    for pos, (op, meta, _) in enumerate(actions):
        out.append(injected_item(op, meta) if pos in removed else next(real))
    return out


# ---------------------------------------------------------------- rules and records
class Rule:
    KINDS = ("status", "item429", "delay", "close", "reset", "413")

    def __init__(self, kind, count=None, status=None, retry_after=None, ids=None, first_k=None, seconds=0.0,
                 max_bytes=None, path="_bulk"):
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        if kind == "item429" and (ids is None) == (first_k is None):
            raise ValueError("item429 needs exactly one of ids or first_k")
        if kind == "413" and max_bytes is None:
            raise ValueError("413 needs max_bytes")
        self.kind = kind
        self.remaining = count
        self.status = status
        self.retry_after = retry_after
        self.ids = None if ids is None else {str(x) for x in ids}
        self.first_k = first_k
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.path = path
        self.hits = 0
        self._release = threading.Event()

    def release(self):
        """Ends the hold of every request this delay rule holds now or later."""
        self._release.set()

    def __repr__(self):
        return f"Rule({self.kind}, remaining={self.remaining}, hits={self.hits})"


class Record:
    """One request the proxy received. `time` is time.monotonic() when its body was
    read; `status` what the client was answered (None: nothing, the connection was
    closed; for a `reset` the status line of the cut answer); `fault` the rule kind
    applied or None; `injected` the _ids answered 429 by the proxy; `response` the
    answer body from the node (bytes) or None; `done` once the request is finished."""
    __slots__ = ("time", "path", "body", "status", "fault", "injected", "response", "done", "upstream_status")

    def __init__(self, t, path, body):
        self.time, self.path, self.body = t, path, body
        self.status = self.fault = self.response = self.upstream_status = None
        self.injected = []
        self.done = False

    def as_tuple(self):
        return (self.time, self.path, self.body, self.status)

    def ids(self):
        return action_ids(self.body)

    def items(self):
        """Items of the node's answer (to the forwarded part), [] when there is none."""
        try:
            return json.loads(self.response)["items"]
        except (TypeError, ValueError, KeyError):
            return []

    def copy(self):
        r = Record(self.time, self.path, self.body)
        r.done = self.done  # first: a copy that says done holds the final values
        for k in self.__slots__:
            if k != "done":
                setattr(r, k, getattr(self, k))
        r.injected = list(self.injected)
        return r

    def __repr__(self):
        return (f"Record(t={self.time:.3f}, {self.path}, {len(self.body)} bytes, status={self.status}, "
                f"fault={self.fault}, injected={self.injected})")


# ---------------------------------------------------------------- the proxy
class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "faultproxy"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self.upstream = None
        self.server.proxy._count_connection()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        if self.upstream is not None:
            self.upstream.close()

    # -- request plumbing
    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _forward(self, body):
        """(status, headers, body) from the node; raises OSError/HTTPException."""
        proxy = self.server.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = proxy.upstream_host
        if body or self.command in ("POST", "PUT"):
            headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            if self.upstream is None:
                self.upstream = proxy._connect()
            try:
                self.upstream.request(self.command, self.path, body=body if body else None, headers=headers)
                r = self.upstream.getresponse()
                data = r.read()
                rh = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP_BY_HOP]
                if r.will_close:
                    self.upstream.close()
                    self.upstream = None
                return r.status, rh, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # a kept-alive connection the node had closed: one fresh try
                self.upstream.close()
                self.upstream = None
                if attempt == 1:
                    raise

    def _send(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _reset(self, status, headers, body):
        """Sends the status line, the headers and half of the body, then an RST."""
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:max(1, len(body) // 2)])
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()  # linger 0: the close sends an RST
        except OSError:
            pass
        self.rfile, self.wfile = io.BytesIO(), io.BytesIO()  # the server's own flush/close go nowhere

    def _handle(self):
        proxy = self.server.proxy
        body = self._read_body()
        rec = Record(time.monotonic(), self.path, body)
        proxy._add_record(rec)
        try:
            self._serve(proxy, rec, body)
        finally:
            rec.done = True

    def _serve(self, proxy, rec, body):
        actions = None
        if "_bulk" in self.path:
            try:
                actions = parse_bulk(body)
            except ValueError:
                actions = None
        rule, removed = proxy._match(self.path, body, actions)
        rec.fault = rule.kind if rule else None
        json_hdr = [("Content-Type", "application/json; charset=UTF-8")]

        if rule is not None and rule.kind == "status":
            err = {"error": {"root_cause": [], "type": "es_rejected_execution_exception" if rule.status == 429
                             else "unavailable_shards_exception", "reason": "injected"}, "status": rule.status}
            hdrs = list(json_hdr)
            if rule.retry_after is not None:
                hdrs.append(("Retry-After", str(rule.retry_after)))
            rec.status = rule.status
            self._send(rule.status, hdrs, json.dumps(err).encode())
            return
        if rule is not None and rule.kind == "413":
            rec.status = 413
            self._send(413, [], b"")
            return
        if rule is not None and rule.kind == "close":
            self.close_connection = True  # nothing written: the client sees the connection close
            return
        if rule is not None and rule.kind == "delay":
            rule._release.wait(rule.seconds)
            if proxy._closed.is_set():
                self.close_connection = True
                return

        fwd = body
        if rule is not None and rule.kind == "item429":
            rec.injected = [str(actions[p][1].get("_id")) for p in sorted(removed)]
            fwd = build_body([a for p, a in enumerate(actions) if p not in removed])
        if rule is not None and rule.kind == "item429" and not fwd:
            status, rh, data = 200, list(json_hdr), None
            rec.upstream_status = None
            items = splice_items(actions, removed, [])
            answer = json.dumps({"took": 0, "errors": True, "items": items}).encode()
        else:
            try:
                status, rh, data = self._forward(fwd)
            except (OSError, http.client.HTTPException) as e:
                rec.status = 502
                self._send(502, json_hdr, json.dumps({"error": f"faultproxy: upstream: {e}"}).encode())
                return
            rec.upstream_status = status
            rec.response = data
            answer = data
            if rule is not None and rule.kind == "item429" and 200 <= status < 300:
                real = json.loads(data)
                real["items"] = splice_items(actions, removed, real.get("items", []))
                real["errors"] = True
                answer = json.dumps(real).encode()
        rec.status = status
        if rule is not None and rule.kind == "reset":
            self._reset(status, rh, answer)
            return
        try:
            self._send(status, rh, answer)
        except OSError:  # the client gave up (e.g. its timeout during a delay)
            rec.status = None
            self.close_connection = True

    def _dispatch(self):
        try:
            self._handle()
        except (OSError, ValueError, http.client.HTTPException) as e:
            self.server.proxy._note_error(e)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch


class FaultProxy:
    def __init__(self, upstream_url):
        u = urllib.parse.urlsplit(upstream_url)
        if u.scheme not in ("http", "https"):
            raise ValueError(f"upstream must be http(s): {upstream_url}")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.upstream_host = u.netloc
        self.prefix = u.path.rstrip("/")
        self._lock = threading.Lock()
        self._rules = []
        self._records = []
        self._errors = []
        self._connections = 0
        self._closed = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="faultproxy", daemon=True)
        self._thread.start()

    def _connect(self):
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=120)

    # -- programming
    def add(self, rule):
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_status(self, status, count=None, retry_after=None, path="_bulk"):
        """Answers whole requests with `status` (503, 429…), optionally with Retry-After."""
        return self.add(Rule("status", count, status=status, retry_after=retry_after, path=path))

    def item_429(self, ids=None, first_k=None, count=None):
        """Per-item 429 for the items whose _id is in `ids` (requests holding none of
        them do not match) or for the first `first_k` items of a request."""
        return self.add(Rule("item429", count, ids=ids, first_k=first_k))

    def delay(self, seconds, count=None, path="_bulk"):
        return self.add(Rule("delay", count, seconds=seconds, path=path))

    def drop(self, count=None, mode="close", path="_bulk"):
        if mode not in ("close", "reset"):
            raise ValueError("mode is close or reset")
        return self.add(Rule(mode, count, path=path))

    def too_large(self, max_bytes, count=None):
        return self.add(Rule("413", count, max_bytes=max_bytes))

    def remove(self, rule):
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)
        rule.release()

    def clear(self):
        with self._lock:
            rules, self._rules = self._rules, []
        for r in rules:
            r.release()

    def _match(self, path, body, actions):
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or rule.path not in path:
                    continue
                removed = None
                if rule.kind == "413" and len(body) <= rule.max_bytes:
                    continue
                if rule.kind == "item429":
                    if not actions:
                        continue
                    if rule.ids is not None:
                        removed = {p for p, (_, meta, _) in enumerate(actions) if str(meta.get("_id")) in rule.ids}
                    else:
                        removed = set(range(min(rule.first_k, len(actions))))
                    if not removed:
                        continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule, removed
        return None, None

    # -- observing
    def _add_record(self, rec):
        with self._lock:
            self._records.append(rec)

    def _count_connection(self):
        with self._lock:
            self._connections += 1

    def connections(self):
        """How many client connections were accepted (keep-alive reuses one)."""
        with self._lock:
            return self._connections

    def _note_error(self, e):
        with self._lock:
            self._errors.append(repr(e))

    def errors(self):
        with self._lock:
            return list(self._errors)

    def records(self, path="_bulk"):
        """Copies of the records of requests whose path contains `path`, in arrival order."""
        with self._lock:
            recs = [r.copy() for r in self._records if path in r.path]
        return sorted(recs, key=lambda r: r.time)

    def bulk_records(self):
        return self.records("_bulk")

    def log(self):
        """[(time, path, body bytes, response status)] of every `_bulk` request."""
        return [r.as_tuple() for r in self.bulk_records()]

    def close(self):
        self._closed.set()
        self.clear()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- self-test
def self_test():
    """Offline checks of parse_bulk, build_body, splice_items and rule matching;
    raises AssertionError when the proxy's logic is broken."""
    def act(op, i, doc=True):
        line = json.dumps({op: {"_index": "t", "_id": str(i), "version": 100 + i, "version_type": "external"}})
        return line + "\n" + (json.dumps({"id": i, "s": "a\\nb 中"}) + "\n" if doc else "")

    body = (act("index", 1) + act("delete", 2, doc=False) + act("create", 3) + act("index", 4)
            + act("delete", 5, doc=False)).encode()
    acts = parse_bulk(body)
    assert [a[0] for a in acts] == ["index", "delete", "create", "index", "delete"], acts
    assert action_ids(body) == ["1", "2", "3", "4", "5"]
    assert build_body(acts) == body
    assert parse_bulk(body.replace(b"\n", b"\n\n")) == acts  # blank lines are not actions
    for bad in (b'{"index":{"_id":"1"}}\n', b'{"bogus":{}}\n{}\n', b'[1]\n'):
        try:
            parse_bulk(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"parse_bulk accepted {bad!r}")

    removed = {1, 3}
    fwd = build_body([a for p, a in enumerate(acts) if p not in removed])
    assert action_ids(fwd) == ["1", "3", "5"], action_ids(fwd)
    assert fwd.count(b"\n") == 2 + 2 + 1
    real = [{"index": {"_id": "1", "status": 201}}, {"create": {"_id": "3", "status": 201}},
            {"delete": {"_id": "5", "status": 404}}]
    items = splice_items(acts, removed, real)
    assert len(items) == len(acts)
    assert [next(iter(it.values()))["_id"] for it in items] == ["1", "2", "3", "4", "5"], items
    assert [next(iter(it.values()))["status"] for it in items] == [201, 429, 201, 429, 404], items
    assert list(items[1]) == ["delete"] and list(items[3]) == ["index"]
    assert items[3]["index"]["error"] == {"type": "es_rejected_execution_exception", "reason": "injected"}
    assert items[3]["index"]["_index"] == "t"
    assert splice_items(acts, set(range(5)), []) == [injected_item(o, m) for o, m, _ in acts]
    assert splice_items(acts, set(), real + real[:2]) == real + real[:2]
    try:
        splice_items(acts, removed, real[:2])
    except ValueError:
        pass
    else:
        raise AssertionError("splice_items accepted a short answer")

    # rule matching, without a server
    p = FaultProxy.__new__(FaultProxy)
    p._lock = threading.Lock()
    p._rules = []
    r1 = p.add(Rule("item429", 1, ids={"4", "9"}))
    r2 = p.add(Rule("item429", 2, first_k=2))
    r3 = p.add(Rule("413", None, max_bytes=len(body) - 1))
    rule, rem = p._match("/_bulk", body, acts)
    assert rule is r1 and rem == {3}, (rule, rem)
    rule, rem = p._match("/_bulk", body, acts)
    assert rule is r2 and rem == {0, 1}, (rule, rem)
    rule, rem = p._match("/_bulk", body, acts[:1])
    assert rule is r2 and rem == {0} and r2.remaining == 0
    rule, _ = p._match("/_bulk", body, acts)
    assert rule is r3 and r3.hits == 1
    rule, _ = p._match("/_bulk", body[:-1], acts)
    assert rule is None
    rule, _ = p._match("/", body, acts)
    assert rule is None
    return True


if __name__ == "__main__":
    self_test()
    print("faultproxy self-test ok")
