"""Fault injection between canal-es and the real search node (faultproxy.FaultProxy).

canal-es's `url` points at the proxy, which forwards to ES_URL and injects
whole-request 503/429 (with Retry-After), per-item 429, delays beyond
request_timeout_ms, dropped and reset connections, and 413 above a body size.
Every test ends with the index equal to MariaDB row by row, and checks that no
document regressed: after a final UPDATE every `_version` grew and the new
values are the ones indexed.
"""
from http.client import HTTPConnection
import json
import os
import urllib.parse
import urllib.request

import itlib
from faultproxy import FaultProxy, self_test
from harness import ENV, CanalEs, TestFailure, check, delete_index, http, index_docs, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows

FAST_RETRY = {"retry_initial_ms": 50, "retry_max_ms": 200}


# ---------------------------------------------------------------- helpers
class Rig:
    """A table, a fault proxy in front of the real node, and canal-es pointed at the proxy."""

    def __init__(self, t, es_opts=None, batch_size=1000):
        self.t = t
        new_table(t)
        self.proxy = FaultProxy(ENV["ES_URL"])
        self.es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}, batch_size=batch_size)
        text = open(self.es.ini).read()
        url_line = f"url = {ENV['ES_URL']}\n"
        check(url_line in text, f"unexpected ini text: {text}")
        # "{dir}" in a value is the canal-es run directory (for dead-letter files)
        extra = "".join(f"{k} = {str(v).replace('{dir}', self.es.dir)}\n" for k, v in (es_opts or {}).items())
        with open(self.es.ini, "w") as f:
            f.write(text.replace(url_line, f"url = {self.proxy.url}\n" + extra))
        self.es.start()

    def path(self, name):
        return os.path.join(self.es.dir, name)

    def docs(self):
        return product_docs(self.t)

    def sync(self, timeout=40):
        try:
            wait_in_sync(self.t, self.docs(), timeout=timeout)
        except TestFailure as e:
            raise TestFailure(f"{e}\nproxy: {self.describe()}\ncanal-es log:\n{self.es.tail(15)}")

    def describe(self, last=12):
        recs = self.proxy.bulk_records()
        return "; ".join(f"[{r.status} {r.fault or '-'} {len(r.body)}B ids {short_ids(r)}]" for r in recs[-last:])

    def check_proxy(self):
        errs = self.proxy.errors()
        check(not errs, f"the proxy itself failed: {errs}")

    def stop(self):
        """Releases held requests, stops canal-es (exit 0 expected) and the proxy."""
        self.proxy.clear()
        try:
            rc = self.es.stop()
        finally:
            self.proxy.close()
        check(rc == 0, f"canal-es did not exit 0 on SIGTERM: {self.es.tail()}")

    def abort(self):
        self.proxy.clear()
        try:
            self.es.stop()
        except TestFailure:
            self.es.stop(sig=9)
        finally:
            self.proxy.close()


def short_ids(rec):
    try:
        ids = rec.ids()
    except ValueError:
        return "?"
    return ",".join(ids) if len(ids) <= 8 else f"{ids[0]}..{ids[-1]} ({len(ids)})"


def run_rig(rig, body):
    try:
        body(rig)
        rig.check_proxy()
    except BaseException:
        rig.abort()
        raise
    rig.stop()


def doc_versions(t):
    http("POST", f"/{t}/_refresh")
    _, r = http("POST", f"/{t}/_search", {"size": 10000, "version": True, "_source": False, "sort": ["_doc"]})
    return {h["_id"]: h["_version"] for h in r["hits"]["hits"]}


def update_all_and_check_versions(rig, tag):
    """UPDATEs every row; the index must then hold the new values, each with a greater _version."""
    before = doc_versions(rig.t)
    check(before, "no documents before the final update")
    sql(f"UPDATE `{DB}`.`{rig.t}` SET name = CONCAT(name, ' {tag}'), qty = IFNULL(qty, 0) + 1000;")
    rig.sync()
    after = doc_versions(rig.t)
    check(set(after) == set(before), f"the documents changed: {sorted(set(after) ^ set(before))[:10]}")
    stale = [k for k in before if after[k] <= before[k]]
    check(not stale, f"_version did not grow for {stale[:10]}: {[(k, before[k], after[k]) for k in stale[:3]]}")
    docs = index_docs(rig.t)
    check(all(d["name"].endswith(" " + tag) for d in docs.values()), "the final UPDATE's values must be indexed")


def bulk_since(rig, n0):
    return rig.proxy.bulk_records()[n0:]


# ---------------------------------------------------------------- tests
def test_fault_proxy_selftest():
    """The proxy's NDJSON parsing and splice logic offline, then one per-item-429 request through the
    proxy to the real node: items stay in request order, injected ones are 429, the others really applied."""
    self_test()
    idx = "fault_selftest"
    delete_index(idx)
    proxy = FaultProxy(ENV["ES_URL"])
    try:
        lines = []
        for i in range(1, 7):
            lines.append(json.dumps({"index": {"_index": idx, "_id": str(i), "version": 10 + i,
                                               "version_type": "external"}}))
            lines.append(json.dumps({"id": i}))
        lines.append(json.dumps({"delete": {"_index": idx, "_id": "99", "version": 5, "version_type": "external"}}))
        body = ("\n".join(lines) + "\n").encode()
        rule = proxy.item_429(ids={"2", "5", "99"}, count=1)
        req = urllib.request.Request(proxy.url + "/_bulk", data=body, method="POST",
                                     headers={"Content-Type": "application/x-ndjson"})
        with urllib.request.urlopen(req, timeout=30) as r:
            answer = json.loads(r.read())
        items = answer["items"]
        check(len(items) == 7, f"7 items expected: {items}")
        ids = [next(iter(it.values()))["_id"] for it in items]
        check(ids == ["1", "2", "3", "4", "5", "6", "99"], f"items out of order: {ids}")
        st = [next(iter(it.values()))["status"] for it in items]
        check(st[1] == st[4] == st[6] == 429 and all(200 <= st[i] < 300 for i in (0, 2, 3, 5)), f"statuses {st}")
        check(list(items[6]) == ["delete"] and answer["errors"] is True, f"answer: {answer}")
        check(rule.hits == 1 and rule.remaining == 0, f"rule {rule}")
        rec = proxy.bulk_records()[0]
        check(rec.injected == ["2", "5", "99"] and rec.upstream_status == 200, f"record {rec}")
        check([next(iter(it.values()))["_id"] for it in rec.items()] == ["1", "3", "4", "6"],
              f"only the other items reach the node: {rec.items()}")
        check(set(index_docs(idx)) == {"1", "3", "4", "6"}, f"node holds {sorted(index_docs(idx))}")
        # keep-alive: two requests on one client connection, both forwarded
        u = urllib.parse.urlsplit(proxy.url)
        conn = HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            for _ in range(2):
                conn.request("GET", f"/{idx}/_count")
                r = conn.getresponse()
                check(r.status == 200 and json.loads(r.read())["count"] == 4, "count through the proxy")
        finally:
            conn.close()
        check(len(proxy.records(f"/{idx}/_count")) == 2 and proxy.connections() == 2,
              f"keep-alive: {proxy.connections()} connections for 3 requests")
        check(not proxy.errors(), f"proxy errors: {proxy.errors()}")
    finally:
        proxy.close()
        delete_index(idx)


def test_fault_item_429_retries_only_failed_items():
    """Per-item 429 for chosen ids: the next _bulk holds exactly those items; again with the first 5 items of
    an UPDATE answered 429 twice; all ends indexed with growing versions."""
    rig = Rig("fault_items", FAST_RETRY)

    def body(rig):
        t = rig.t
        chosen = ["3", "7", "11"]
        rule = rig.proxy.item_429(ids=set(chosen), count=1)
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 20)};")
        rig.sync()
        check(rule.hits == 1, f"the per-item rule was not applied: {rule}")
        recs = rig.proxy.bulk_records()
        k = next(i for i, r in enumerate(recs) if r.fault == "item429")
        check(recs[k].injected == chosen, f"injected {recs[k].injected}")
        check(not set(chosen) & {next(iter(it.values()))["_id"] for it in recs[k].items()},
              "the 429 items must not have reached the node")
        check(len(recs) > k + 1, f"no retry after the 429 items: {rig.describe()}")
        retry = recs[k + 1]
        check(retry.ids() == chosen, f"the retried _bulk must hold only the failed items {chosen}, got {retry.ids()}")
        check(retry.status == 200 and retry.fault is None, f"retry {retry}")

        # the first 5 items of an UPDATE answered 429, then all 5 again (nothing forwarded), then applied
        v1 = doc_versions(t)
        n0 = len(rig.proxy.bulk_records())
        rule2 = rig.proxy.item_429(first_k=5, count=2)
        sql(f"UPDATE `{DB}`.`{t}` SET name = CONCAT(name, ' v2'), price = price + 1;")
        rig.sync()
        check(rule2.hits == 2, f"rule {rule2}")
        recs = bulk_since(rig, n0)
        check(len(recs) >= 3, f"3 requests expected: {rig.describe()}")
        first5 = [str(i) for i in range(1, 6)]
        check(recs[0].ids() == [str(i) for i in range(1, 21)] and recs[0].injected == first5,
              f"first request {recs[0]} ids {recs[0].ids()}")
        check(recs[1].ids() == first5 and recs[1].injected == first5, f"first retry {recs[1]} ids {recs[1].ids()}")
        check(recs[2].ids() == first5 and recs[2].fault is None and recs[2].status == 200,
              f"second retry {recs[2]} ids {recs[2].ids()}")
        v2 = doc_versions(t)
        check(all(v2[k] > v1[k] for k in v1), "every document must carry the UPDATE's newer version")
        update_all_and_check_versions(rig, "final")

    run_rig(rig, body)


def test_fault_503_whole_requests_then_recovers():
    """The next 3 _bulk requests answered 503: the same actions are sent again until applied; no loss."""
    rig = Rig("fault_503", FAST_RETRY)

    def body(rig):
        t = rig.t
        rule = rig.proxy.fail_status(503, count=3)
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 30)};")
        sql(f"UPDATE `{DB}`.`{t}` SET qty = NULL, note = 'changed' WHERE id BETWEEN 5 AND 12;")
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE id IN (2, 20, 21);")
        rig.sync()
        check(rule.hits == 3, f"rule {rule}")
        recs = rig.proxy.bulk_records()
        check([r.status for r in recs[:3]] == [503, 503, 503], f"503s first: {rig.describe()}")
        check(len(recs) >= 4 and recs[3].status == 200 and recs[3].ids() == recs[0].ids(),
              f"the 4th request must resend the same actions: {rig.describe()}")
        check(len(index_docs(t)) == 27, "27 documents expected")
        update_all_and_check_versions(rig, "after503")

    run_rig(rig, body)


def test_fault_429_retry_after_is_honoured():
    """A whole-request 429 with Retry-After: 2: the next attempt comes >= ~2 s later although the backoff
    (retry_initial_ms 50, retry_max_ms 200) alone would retry within 200 ms."""
    rig = Rig("fault_retry_after", FAST_RETRY)

    def body(rig):
        t = rig.t
        rule = rig.proxy.fail_status(429, count=1, retry_after=2)
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 10)};")
        rig.sync()
        check(rule.hits == 1, f"rule {rule}")
        recs = rig.proxy.bulk_records()
        k = next(i for i, r in enumerate(recs) if r.fault == "status")
        check(recs[k].status == 429 and len(recs) > k + 1, f"429 then a retry: {rig.describe()}")
        gap = recs[k + 1].time - recs[k].time
        check(recs[k + 1].ids() == recs[k].ids(), "the retry must resend the same actions")
        check(gap >= 1.9, f"Retry-After: 2 not honoured: the next attempt came {gap:.3f} s after the 429")
        update_all_and_check_versions(rig, "after429")

    run_rig(rig, body)


def test_fault_request_timeout_then_no_stale_content():
    """Two _bulk requests held longer than request_timeout_ms (1000): canal-es times out and retries; the
    held stale requests, released after a newer UPDATE was indexed, reach the node and are refused (409),
    so no document goes back to older content."""
    rig = Rig("fault_timeout", dict(FAST_RETRY, request_timeout_ms=1000))

    def body(rig):
        t = rig.t
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 10)};")
        rig.sync()
        n0 = len(rig.proxy.bulk_records())
        hold = rig.proxy.delay(30, count=2)  # released by the test below, long after the 1 s timeout
        sql(f"UPDATE `{DB}`.`{t}` SET name = CONCAT(name, ' v2');")
        rig.sync(timeout=30)
        check(hold.hits == 2, f"rule {hold}")
        recs = bulk_since(rig, n0)
        held = [r for r in recs if r.fault == "delay"]
        check(len(held) == 2 and not any(r.done for r in held), f"2 requests still held: {rig.describe()}")
        ok = [r for r in recs if r.fault is None and r.status == 200]
        check(ok and ok[0].ids() == held[0].ids() and ok[0].time > held[1].time,
              f"the same actions must be sent again after the timeouts: {rig.describe()}")
        sql(f"UPDATE `{DB}`.`{t}` SET name = CONCAT(name, ' v3'), qty = 7;")
        rig.sync()
        v3 = doc_versions(t)
        hold.release()
        poll(lambda: all(r.done for r in bulk_since(rig, n0) if r.fault == "delay"), 30,
             "the held requests to reach the node")
        for r in [r for r in bulk_since(rig, n0) if r.fault == "delay"]:
            check(r.upstream_status == 200, f"held request answered {r.upstream_status}")
            st = [(next(iter(it.values()))["status"], next(iter(it.values())).get("error", {}).get("type"))
                  for it in r.items()]
            check(len(st) == 10 and all(s == (409, "version_conflict_engine_exception") for s in st),
                  f"the stale held writes must be refused as version conflicts: {st}")
        wait_in_sync(t, rig.docs(), timeout=5)
        check(doc_versions(t) == v3, "a stale write changed a document's version")
        check(all(d["name"].endswith(" v2 v3") for d in index_docs(t).values()), "v3 content must stay")
        update_all_and_check_versions(rig, "aftertimeout")

    run_rig(rig, body)


def test_fault_dropped_and_reset_connections():
    """Two _bulk requests closed without an answer, two reset in the middle of the answer (after the node
    applied them): canal-es retries; nothing lost, nothing stale."""
    rig = Rig("fault_drops", FAST_RETRY)

    def body(rig):
        t = rig.t
        closed = rig.proxy.drop(count=2, mode="close")
        reset = rig.proxy.drop(count=2, mode="reset")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 40)};")
        sql(f"UPDATE `{DB}`.`{t}` SET price = price * 2, note = 'dropped?' WHERE id <= 10;")
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE id > 30;")
        rig.sync()
        # the index can match MariaDB before canal-es has seen every fault: the node applied the request
        # whose answer was reset, and the retry after it is still to come
        poll(lambda: closed.hits == 2 and reset.hits == 2, 30, f"both faults twice ({closed} {reset})")
        recs = rig.proxy.bulk_records()
        check([r.fault for r in recs[:4]] == ["close", "close", "reset", "reset"], f"faults: {rig.describe()}")
        check(recs[2].upstream_status == 200, "a reset request was applied by the node before the reset")
        check(len(index_docs(t)) == 30, "30 documents expected")
        # again once the stream is running
        n0 = len(rig.proxy.bulk_records())
        closed2 = rig.proxy.drop(count=1, mode="close")
        reset2 = rig.proxy.drop(count=1, mode="reset")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(100, 5)};")
        rig.sync()
        poll(lambda: closed2.hits == 1 and reset2.hits == 1, 30, f"both faults once more ({closed2} {reset2})")
        poll(lambda: any(r.fault is None and r.status == 200 for r in bulk_since(rig, n0)), 30,
             "a clean request at last")
        update_all_and_check_versions(rig, "afterdrops")

    run_rig(rig, body)


def test_fault_413_splits_and_dead_letters_oversized():
    """413 for _bulk bodies > 4000 bytes: a 200-row transaction is split until every request fits; a row
    whose action alone is larger goes to the dead-letter file with status 413 and later rows keep flowing."""
    limit = 4000
    t = "fault_413"

    def body(rig):
        rule = rig.proxy.too_large(limit)
        sql(f"BEGIN; INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 100)}; "
            f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(101, 100)}; COMMIT;")
        rig.sync(timeout=45)
        recs = rig.proxy.bulk_records()
        check(rule.hits >= 1 and recs[0].status == 413 and len(recs[0].body) > 4 * limit,
              f"the first request must be one big body answered 413: {rig.describe()}")
        applied = [r for r in recs if r.status == 200 and r.fault is None]
        too_big = [len(r.body) for r in applied if len(r.body) > limit]
        check(not too_big, f"successful bodies above {limit} bytes: {too_big}")
        sent = set()
        for r in applied:
            sent.update(r.ids())
        check(sent >= {str(i) for i in range(1, 201)}, f"rows never sent in a fitting body: "
              f"{sorted({str(i) for i in range(1, 201)} - sent, key=int)[:10]}")
        check(len(index_docs(t)) == 200, "200 documents expected")

        # one row whose action alone exceeds the limit, inside a transaction with small rows, then more rows
        n0 = len(rig.proxy.bulk_records())
        sql(f"BEGIN; INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1001, 5)}; "
            f"INSERT INTO `{DB}`.`{t}` VALUES (1000, 'big', 1, 1.00, REPEAT('x', 6000), '2024-01-01 10:00:00', 0); "
            f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1006, 5)}; COMMIT;")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1011, 10)};")
        want = {str(i) for i in range(1001, 1021)}

        def later_rows_and_dead_letter():
            ids = set(index_docs(t))
            return want <= ids and os.path.exists(dl) and os.path.getsize(dl) > 0

        try:
            poll(later_rows_and_dead_letter, 45, "rows 1001..1020 indexed and a dead letter for row 1000")
        except TestFailure as e:
            raise TestFailure(f"{e}\nproxy: {rig.describe()}\ncanal-es log:\n{rig.es.tail(15)}")
        check("1000" not in index_docs(t), "the oversized row must not be indexed")
        lines = [json.loads(x) for x in open(dl, encoding="utf-8").read().splitlines()]
        check(len(lines) == 1, f"exactly one dead letter expected, got {len(lines)}: {str(lines)[:500]}")
        d = lines[0]
        check(d["status"] == 413, f"dead letter status must be 413: {str(d)[:400]}")
        check(d["action"]["index"]["_id"] == "1000" and d["document"]["note"] == "x" * 6000,
              f"dead letter holds the oversized action: {str(d)[:400]}")
        check(d["table"] == f"{DB}.{t}", f"dead letter table: {d['table']}")
        applied = [r for r in bulk_since(rig, n0) if r.status == 200 and r.fault is None]
        check(all(len(r.body) <= limit for r in applied), "a successful body above the limit")
        check(not any("1000" in r.ids() for r in applied), "the oversized action can never fit")

        # remove the dead-lettered row from MariaDB: the index equals MariaDB again
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE id = 1000;")
        rig.sync()
        update_all_and_check_versions(rig, "after413")
        check(len(open(dl, encoding="utf-8").read().splitlines()) == 1, "no further dead letters")

    rig = Rig(t, dict(FAST_RETRY, on_error="dead_letter", dead_letter="{dir}/dead-letters.jsonl"))
    dl = rig.path("dead-letters.jsonl")
    run_rig(rig, body)


def test_fault_replay_retries_splits_and_keeps_oversized():
    """replay-dead-letters through the proxy takes the service's delivery path: a whole-request 503 with
    Retry-After is waited for, 413 halves the requests, a per-item 429 resends only those items, and a
    line whose action alone is too large is kept in .remaining with status 413; the rest is applied."""
    import subprocess
    t = "fault_replay"
    delete_index(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    proxy = FaultProxy(ENV["ES_URL"])
    try:
        text = open(es.ini).read()
        url_line = f"url = {ENV['ES_URL']}\n"
        check(url_line in text, f"unexpected ini text: {text}")
        extra = "".join(f"{k} = {v}\n" for k, v in FAST_RETRY.items())
        with open(es.ini, "w") as f:
            f.write(text.replace(url_line, f"url = {proxy.url}\n" + extra))
        dl = os.path.join(es.dir, "dead-letters.jsonl")
        limit = 3000
        with open(dl, "w", encoding="utf-8") as f:
            for i in range(1, 31):
                doc = {"id": i, "name": ("x" * (limit + 100)) if i == 17 else f"n{i}"}
                f.write(json.dumps({"time": "2024-01-01T00:00:00.000Z", "status": 400,
                                    "error": {"type": "mapper_parsing_exception", "reason": "r"},
                                    "table": f"{DB}.{t}", "binlog": {"file": "mysql-bin.000001", "offset": i},
                                    "action": {"index": {"_index": t, "_id": str(i), "version": 100 + i,
                                                         "version_type": "external"}},
                                    "document": doc}) + "\n")
        r503 = proxy.fail_status(503, count=1, retry_after=1)
        r413 = proxy.too_large(limit)
        r429 = proxy.item_429(ids={"4", "9"}, count=1)
        p = subprocess.run([itlib.BIN, "replay-dead-letters", "-c", es.ini, dl], capture_output=True, text=True,
                           env=es.env, timeout=120)
        recs = proxy.bulk_records()
        desc = "; ".join(f"[{r.status} {r.fault or '-'} {len(r.body)}B]" for r in recs)
        check(p.returncode == 1, f"the oversized line remains: exit 1, got {p.returncode}: {p.stdout} {p.stderr}")
        check(p.stdout.splitlines()[0] == "replayed 30: applied 29, superseded 0, rejected 1, failed 0, bad lines 0",
              f"summary: {p.stdout} {p.stderr} {desc}")
        check(r503.hits == 1 and recs[0].status == 503, f"first request 503: {desc}")
        check(recs[1].time - recs[0].time >= 0.9, f"Retry-After: 1 not honoured: {recs[1].time - recs[0].time:.3f} s")
        check(r413.hits >= 2 and "413" in p.stderr and "retrying in" in p.stderr, f"413 and retry lines: {p.stderr}")
        check(all(len(r.body) <= limit for r in recs if r.status == 200), f"answered requests fit: {desc}")
        k = next(i for i, r in enumerate(recs) if r.fault == "item429")
        check(recs[k].injected == ["4", "9"], f"injected {recs[k].injected}")
        check(recs[k + 1:] and any(r.ids() == ["4", "9"] and r.status == 200 for r in recs[k + 1:]),
              f"the retried body holds only the failed items: {desc}")
        kept = [json.loads(x) for x in open(dl + ".remaining", encoding="utf-8").read().splitlines()]
        check(len(kept) == 1 and kept[0]["action"]["index"]["_id"] == "17" and kept[0]["status"] == 413
              and kept[0]["error"]["type"] == "request_entity_too_large", f"the oversized line is kept: {kept}")
        docs = index_docs(t)
        check(set(docs) == {str(i) for i in range(1, 31)} - {"17"}, f"29 documents: {sorted(docs)}")
        check(version(t, "4") == 104 and version(t, "30") == 130, "the external versions are kept")
        errs = proxy.errors()
        check(not errs, f"the proxy itself failed: {errs}")
    finally:
        proxy.close()
        delete_index(t)


def version(index, doc_id):
    return http("GET", f"/{index}/_doc/{doc_id}")[1]["_version"]


TESTS = [
    test_fault_proxy_selftest,
    test_fault_item_429_retries_only_failed_items,
    test_fault_503_whole_requests_then_recovers,
    test_fault_429_retry_after_is_honoured,
    test_fault_request_timeout_then_no_stale_content,
    test_fault_dropped_and_reset_connections,
    test_fault_413_splits_and_dead_letters_oversized,
    test_fault_replay_retries_splits_and_keeps_oversized,
]
