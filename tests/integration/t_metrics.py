"""[http] listen: /metrics (Prometheus text) and /health scraped while rows flow, and /health 503 when the
search node cannot be reached."""
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request

import itlib
from harness import CanalEs, check, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.rpartition(" ")
            out[key] = float(val)
    return out


def with_http(es, port, extra=""):
    with open(es.ini, "a") as f:
        f.write(f"\n[http]\nlisten = 127.0.0.1:{port}\n{extra}")


def test_metrics_and_health_while_rows_flow():
    t = "metered"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    port = free_port()
    with_http(es, port)
    base = f"http://127.0.0.1:{port}"
    es.start()
    try:
        poll(lambda: get(base + "/health")[0] == 200, 60, "/health to answer 200")
        status, body = get(base + "/health")
        h = json.loads(body)
        check(h["status"] == "ok" and h["canal_connected"] and h["search_reachable"] and h["reasons"] == [],
              f"health: {h}")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 30)};")
        sql(f"UPDATE `{DB}`.`{t}` SET qty = COALESCE(qty, 0) + 100 WHERE id <= 10;")
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE id > 25;")
        wait_in_sync(t, product_docs(t))
        key = f'table="{DB}.{t}"'

        def counted():
            m = samples(get(base + "/metrics")[1])
            return m if m.get(f'canal_es_rows_total{{{key},op="delete"}}') == 5 else None
        m = poll(counted, 30, "the row counters")
        check(m[f'canal_es_rows_total{{{key},op="insert"}}'] == 30, f"inserts: {m}")
        check(m[f'canal_es_rows_total{{{key},op="update"}}'] == 10, f"updates: {m}")
        check(m["canal_es_acks_total"] > 0 and m["canal_es_canal_connected"] == 1
              and m["canal_es_search_reachable"] == 1, f"acks and states: {m}")
        check(m['canal_es_items_total{result="applied"}'] >= 45, f"items: {m}")
        check(m['canal_es_bulk_request_duration_seconds_bucket{le="+Inf"}'] ==
              m["canal_es_bulk_request_duration_seconds_count"] == m["canal_es_bulk_requests_total"] > 0,
              f"histogram count equals the requests: {m}")
        check(0 <= m["canal_es_lag_seconds"] < 300, f"lag: {m}")
        binlog = sql("SHOW MASTER STATUS;")[0].split("\t")[0]
        check(any(k.startswith(f'canal_es_checkpoint_binlog_offset{{file="{binlog}"}}') for k in m),
              f"checkpoint position label: {[k for k in m if 'checkpoint' in k]}")
        text = get(base + "/metrics")[1]
        for name in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
            check(name[1] in ("counter", "gauge", "histogram"), f"type line {name}")
        check(get(base + "/nope")[0] == 404, "unknown path 404")
        with open(os.path.join(REPO, "docs", "grafana-dashboard.json")) as f:
            dash = json.load(f)
        exprs = " ".join(tg["expr"] for p in dash["panels"] for tg in p.get("targets", []))
        for metric in re.findall(r"canal_es_[a-z_]+", exprs):
            base_name = re.sub(r"_(bucket|sum|count)$", "", metric)
            check(f"# TYPE {base_name} " in text, f"the dashboard uses {metric}, which /metrics lacks")
    finally:
        es.stop()


def test_metrics_health_503_when_node_unreachable():
    t = "unmetered"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    text = open(es.ini).read()
    url = re.search(r"^url = (.*)$", text, re.M).group(1)
    with open(es.ini, "w") as f:
        f.write(text.replace(f"url = {url}", "url = http://127.0.0.1:9\nretry_max_ms = 300\nshutdown_timeout_ms = 1000"))
    port = free_port()
    with_http(es, port, "health_max_lag_s = 3600\n")
    base = f"http://127.0.0.1:{port}"
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 3)};")

        def unhealthy():
            status, body = get(base + "/health")
            return (status, json.loads(body)) if status == 503 and "search node" in body else None
        status, h = poll(unhealthy, 60, "/health 503 naming the search node")
        check(h["search_reachable"] is False and h["canal_connected"] is True, f"health: {h}")
        m = samples(get(base + "/metrics")[1])
        check(m["canal_es_request_failures_total"] > 0 and m["canal_es_search_reachable"] == 0, f"metrics: {m}")
    finally:
        es.stop(timeout=60)


def closed_by_server(sock):
    """True once the server closed sock (EOF or reset); whatever it sent before is read and dropped."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_metrics_idle_and_slow_clients_do_not_blind_health():
    """70 idle connections and a slowloris (one header line a second, which no idle timeout ends) must not
    keep /health from answering; the server closes the idle ones within the idle bound (5 s) and the slow one
    within the whole-request bound (10 s)."""
    t = "slowloris"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    port = free_port()
    with_http(es, port)
    base = f"http://127.0.0.1:{port}"
    es.start()
    idle, stop, slow = [], threading.Event(), None
    try:
        poll(lambda: get(base + "/health")[0] in (200, 503), 60, "/health to answer")
        slow = socket.create_connection(("127.0.0.1", port))
        for _ in range(70):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        slow_since = time.monotonic()

        def drip():
            i = 0
            while not stop.wait(1.0):
                try:
                    slow.sendall(f"X-Drip-{i}: 1\r\n".encode())
                except OSError:
                    return
                i += 1
        threading.Thread(target=drip, daemon=True).start()
        t0 = time.monotonic()
        try:
            with urllib.request.urlopen(base + "/health", timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError as e:
            status = f"no answer: {e}"
        check(status in (200, 503), f"/health with 70 idle connections and a slowloris: {status}")
        check(time.monotonic() - t0 < 5, "/health must answer within 5 s")
        for s in idle:
            s.setblocking(False)
        poll(lambda: all(closed_by_server(s) for s in idle), 15, "the server to close the idle connections")
        check(time.monotonic() - t0 < 12, f"idle connections closed after {time.monotonic() - t0:.1f}s")
        slow.setblocking(False)
        poll(lambda: closed_by_server(slow), 20, "the server to close the slowloris connection")
        took = time.monotonic() - slow_since
        check(took < 15, f"the slowloris connection was closed after {took:.1f}s")
        check(get(base + "/health")[0] in (200, 503), "/health after the attack")
    finally:
        stop.set()
        if slow is not None:
            slow.close()
        for s in idle:
            s.close()
        es.stop()


TESTS = [test_metrics_and_health_while_rows_flow, test_metrics_health_503_when_node_unreachable,
         test_metrics_idle_and_slow_clients_do_not_blind_health]
