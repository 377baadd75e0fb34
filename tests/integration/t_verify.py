"""`canal-es verify` on the real stack (docs/operations.md, "Verifying an index"): drift injected into the
index (a deleted document, a changed field, an extra document, a wrong routing) and into MariaDB while the
table's rule was disabled is found exactly, `--repair` fixes it and a second verify exits 0; a writer changing
the table during verify gives no false difference; a regex rule over sharded tables; a soft-delete rule."""
import json
import os
import random
import re
import subprocess
import threading

import itlib
from harness import ENV, CanalEs, check, delete_index, http, poll, rows_as_docs, sql, wait_in_sync
from itlib import DB
from t_snapshot import mysql_ini, set_reindex


def verify(es, *extra, timeout=120):
    p = subprocess.run([itlib.BIN, "verify", "-c", es.ini, "--json", "--settle", "10", *extra],
                       capture_output=True, env=es.env, timeout=timeout)
    out = p.stdout.decode(errors="replace")
    try:
        rep = json.loads(out) if out.strip() else None
    except ValueError:
        rep = None
    return p.returncode, rep, p.stderr.decode(errors="replace")


def ids(rep, kind):
    """{id} of one kind over every table (missing, different) or index (extra)."""
    key = kind + "_ids"
    out = set()
    for x in rep["tables"] + rep["indexes"]:
        for i in x.get(key, []):
            out.add(i["id"] if isinstance(i, dict) else i)
    return out


def with_checkpoint(es):
    with open(es.ini, "a") as f:
        f.write(f"\n[checkpoint]\nfile = {os.path.join(es.dir, 'checkpoint.json')}\n")
    return es


def set_enabled(es, on):
    text = open(es.ini).read()
    text = text.replace("enabled = true", "enabled = x").replace("enabled = false", "enabled = x")
    open(es.ini, "w").write(text.replace("enabled = x", "enabled = " + ("true" if on else "false")))


def master_pos():
    """(binlog sequence, offset) the server writes next."""
    f, p = sql("SHOW MASTER STATUS;")[0].split("\t")[:2]
    return (int(f.rsplit(".", 1)[1]), int(p))


def acked(es):
    """(binlog sequence, offset) of the service's checkpoint, (0, 0) before the first ack."""
    try:
        k = json.load(open(os.path.join(es.dir, "checkpoint.json")))
    except (OSError, ValueError):
        return (0, 0)
    return (int(k["binlog_file"].rsplit(".", 1)[1]), int(k["binlog_offset"]))


def doc(index, i, routing=None):
    q = f"?routing={routing}" if routing else ""
    return http("GET", f"/{index}/_doc/{i}{q}", ok=(200, 404))[1]


def test_verify_finds_and_repairs_injected_drift():
    t = "vdrift"
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, grp VARCHAR(10) NOT NULL, "
        f"price DECIMAL(8,2) NULL) DEFAULT CHARSET=utf8mb4;")
    rule = {"index": t, "routing": "grp", "snapshot": "never", "enabled": "true"}
    es = with_checkpoint(mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": rule}), chunk_rows=50))
    expected = lambda: {k: v for k, v in rows_as_docs(DB, t, ["id"], ["name", "grp", "price"], ["id"]).items()}  # noqa
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES " +
            ",".join(f"({i}, 'name {i} é', 'g{i % 3}', {i}.25)" for i in range(1, 301)) + ";")
        wait_in_sync(t, expected, timeout=90)
        rc, rep, err = verify(es)
        check(rc == 0, f"verify of an index in sync: exit {rc}: {rep} {err[-800:]}")
        check(rep["summary"]["rows"] == 300 and rep["summary"]["documents"] == 300, f"counts: {rep}")
        # drift in the index
        http("DELETE", f"/{t}/_doc/5?routing=g2")
        d7 = doc(t, 7, "g1")
        http("PUT", f"/{t}/_doc/7?routing=g1&version={d7['_version'] + 1}&version_type=external",
             dict(d7["_source"], name="changed by hand"))
        d9 = doc(t, 9, "g0")
        http("PUT", f"/{t}/_doc/9?routing=zzz&version={d9['_version'] + 1}&version_type=external", d9["_source"])
        http("PUT", f"/{t}/_doc/99999?routing=g0&version=1&version_type=external",
             {"id": 99999, "name": "nobody", "grp": "g0", "price": "1.00"})
        # drift in MariaDB while the rule is disabled (the stream skips those changes)
        es.stop()
        set_enabled(es, False)
        es.start()
        before = master_pos()
        sql(f"UPDATE `{DB}`.`{t}` SET name = 'renamed' WHERE id = 11; DELETE FROM `{DB}`.`{t}` WHERE id = 13; "
            f"INSERT INTO `{DB}`.`{t}` VALUES (500, 'new', 'g2', NULL);")
        poll(lambda: acked(es) > before, 30, "the stream to ack the changes it skips")
        es.stop()
        set_enabled(es, True)
        es.start()
        rc, rep, err = verify(es)
        check(rc == 1, f"verify with drift: exit {rc}: {err[-800:]}")
        check(ids(rep, "missing") == {"5", "500"}, f"missing: {ids(rep, 'missing')}; {rep}")
        check(ids(rep, "different") == {"7", "9", "11"}, f"different: {ids(rep, 'different')}; {rep}")
        check(ids(rep, "extra") == {"13", "99999"}, f"extra: {ids(rep, 'extra')}; {rep}")
        diffs = {x["id"]: x for x in rep["tables"][0]["different_ids"]}
        check(diffs["7"]["field"] == "name" and diffs["7"]["indexed"] == '"changed by hand"', f"7: {diffs['7']}")
        check(diffs["9"]["field"] == "_routing" and diffs["9"]["indexed"] == '"zzz"', f"9: {diffs['9']}")
        check(diffs["11"]["expected"] == '"renamed"', f"11: {diffs['11']}")
        check((rep["summary"]["missing"], rep["summary"]["extra"], rep["summary"]["different"]) == (2, 2, 3), f"totals: {rep}")
        rc, rep, err = verify(es, "--repair")
        check(rc == 0, f"verify --repair: exit {rc}: {rep} {err[-800:]}")
        check(rep["summary"]["fixed"] == 7, f"repair fixed {rep['summary']['fixed']} of 7: {rep}")
        rc, rep, err = verify(es)
        check(rc == 0, f"second verify after the repair: exit {rc}: {rep} {err[-800:]}")
        wait_in_sync(t, expected, timeout=30)
        check(doc(t, 9, "g0")["_routing"] == "g0", "9 is routed by its grp again")
    finally:
        es.stop()


def writer(t, lo, hi, seed, statements=40000):
    """A mariadb client updating, deleting and re-inserting rows lo..hi of t without pause (kill it to stop)."""
    rnd = random.Random(seed)
    lines = []
    for _ in range(statements):
        i = rnd.randint(lo, hi)
        k = rnd.random()
        if k < 0.6:
            lines.append(f"UPDATE `{DB}`.`{t}` SET v = v + 1, name = CONCAT('w', v) WHERE id = {i};")
        elif k < 0.8:
            lines.append(f"DELETE FROM `{DB}`.`{t}` WHERE id = {i};")
        else:
            lines.append(f"INSERT INTO `{DB}`.`{t}` (id, name, v) VALUES ({i}, 'back', 0) "
                         f"ON DUPLICATE KEY UPDATE v = v + 10;")
        lines.append("DO SLEEP(0.002);")
    cmd = ["mariadb", "--protocol=TCP", "-h", ENV["MYSQL_HOST"], "-P", ENV["MYSQL_PORT"], "-u", ENV["MYSQL_USER"]]
    w = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(ENV, MYSQL_PWD=ENV["MYSQL_PASSWORD"]))
    script = "\n".join(lines).encode()

    def feed():
        try:
            w.stdin.write(script)
            w.stdin.close()
        except (BrokenPipeError, ValueError):  # killed at the end
            pass
    threading.Thread(target=feed, daemon=True).start()
    return w


def test_verify_under_concurrent_writes():
    """A writer changes rows 1..150 without pause while verify runs three times (the last with position =
    lock_tables): every run reports exactly the drift injected into rows 300.. (never one of the writer's
    rows, some of which differ at their first read and are re-checked), --repair fixes it while the writer
    still runs, and the next verify exits 0."""
    t = "vbusy"
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, v INT NOT NULL) "
        f"DEFAULT CHARSET=utf8mb4;")
    es = with_checkpoint(mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "snapshot": "never"}}),
                                   chunk_rows=25))
    expected = lambda: rows_as_docs(DB, t, ["id", "v"], ["name"], ["id"])  # noqa: E731
    es.start()
    w = None
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES " + ",".join(f"({i}, 'r{i}', 0)" for i in range(1, 401)) + ";")
        wait_in_sync(t, expected, timeout=90)
        http("DELETE", f"/{t}/_doc/301")
        d = doc(t, 302)
        http("PUT", f"/{t}/_doc/302?version={d['_version'] + 1}&version_type=external", dict(d["_source"], v=-5))
        http("PUT", f"/{t}/_doc/99999?version=1&version_type=external", {"id": 99999, "name": "x", "v": 0})
        w = writer(t, 1, 150, 11)
        before = int(sql(f"SELECT SUM(v) FROM `{DB}`.`{t}`;")[0] or 0)
        poll(lambda: int(sql(f"SELECT SUM(v) FROM `{DB}`.`{t}`;")[0] or 0) > before + 20, 60, "the writer")
        rechecked = 0
        # at least three runs, and on until one of them met a writer's row the stream had not indexed yet
        # (with a stream only milliseconds behind that takes a few runs on some machines)
        for run in range(12):
            if run >= 3 and rechecked > 0:
                break
            if run == 2:  # the MySQL method of the read positions, on MariaDB
                set_reindex(es, position="lock_tables")
            rc, rep, err = verify(es)
            check(w.poll() is None, "the writer stopped before the verify runs ended (make it write longer)")
            check(rc == 1, f"run {run + 1}: exit {rc}: {err[-800:]}")
            got = (ids(rep, "missing"), ids(rep, "different"), ids(rep, "extra"))
            m = re.search(r"(\d+) confirmed, (\d+) resolved by the re-check", err)
            rechecked += int(m.group(2)) if m else 0
            check(got == ({"301"}, {"302"}, {"99999"}), f"run {run + 1}: {got}; {rep['summary']}")
        check(rechecked > 0, f"no difference of the writer's rows was re-checked in {run + 1} runs: the test does "
              "not test that")
        rc, rep, err = verify(es, "--repair")
        check(rc == 0 and rep["summary"]["fixed"] == 3, f"--repair under writes: exit {rc}: {rep} {err[-600:]}")
        rc, rep, err = verify(es)
        check(rc == 0, f"verify after the repair: exit {rc}: {rep} {err[-600:]}")
        w.kill()
        w.wait(timeout=60)
        wait_in_sync(t, expected, timeout=60)
    finally:
        if w is not None and w.poll() is None:
            w.kill()
            w.wait(timeout=60)
        es.stop()


def test_verify_sharded_tables_soft_delete():
    """A regex rule writes 3 sharded tables into one index with delete = soft:deleted: a row deleted through
    the stream leaves a soft-deleted document, which verify counts as a row that no longer exists (not extra);
    a live document marked deleted by hand is different, a live document no row has is extra (a soft-deleted
    one is not), a document deleted by hand in the second shard is missing; `--table` of one shard does not
    look for extra documents in the shared index; --repair fixes everything."""
    p = "vshard"
    delete_index(p)
    for k in range(3):
        sql(f"CREATE TABLE `{DB}`.`{p}_{k}` (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL) DEFAULT CHARSET=utf8mb4;")
    rule = {"index": p, "delete": "soft:deleted", "snapshot": "never"}
    es = with_checkpoint(mysql_ini(CanalEs(itlib.BIN, {f"/^{DB}\\.{p}_[0-9]+$/": rule}), chunk_rows=7))

    def expected():
        out = {}
        for k in range(3):
            for line in sql(f"SELECT id, v FROM `{DB}`.`{p}_{k}`;"):
                i, v = line.split("\t")
                out[i] = {"id": int(i), "v": v, "deleted": False}
        out["105"] = {"id": 105, "v": "row 1-5", "deleted": True}
        return out
    es.start()
    try:
        for k in range(3):
            sql(f"INSERT INTO `{DB}`.`{p}_{k}` VALUES " +
                ",".join(f"({k * 100 + i}, 'row {k}-{i}')" for i in range(1, 21)) + ";")
        sql(f"DELETE FROM `{DB}`.`{p}_1` WHERE id = 105;")
        wait_in_sync(p, expected, timeout=90)
        rc, rep, err = verify(es)
        check(rc == 0, f"in sync (one soft-deleted document): exit {rc}: {rep} {err[-800:]}")
        check(rep["summary"]["tables"] == 3 and rep["summary"]["rows"] == 59, f"3 shards, 59 rows: {rep['summary']}")
        d = doc(p, 7)
        http("PUT", f"/{p}/_doc/7?version={d['_version'] + 1}&version_type=external", dict(d["_source"], deleted=True))
        http("PUT", f"/{p}/_doc/999?version=1&version_type=external", {"id": 999, "v": "x", "deleted": False})
        http("PUT", f"/{p}/_doc/998?version=1&version_type=external", {"id": 998, "v": "y", "deleted": True})
        http("DELETE", f"/{p}/_doc/210")
        http("POST", f"/{p}/_refresh")
        rc, rep, err = verify(es)
        got = (ids(rep, "missing"), ids(rep, "different"), ids(rep, "extra"))
        check(rc == 1 and got == ({"210"}, {"7"}, {"999"}), f"drift: exit {rc}: {got}; {rep} {err[-600:]}")
        diff7 = [x for x in rep["tables"] if x["table"] == f"{DB}.{p}_0"][0]["different_ids"][0]
        check(diff7["field"] == "deleted" and diff7["expected"] == "false", f"7: {diff7}")
        rc, rep, err = verify(es, "--table", f"{DB}.{p}_2")
        check(rc == 1 and ids(rep, "missing") == {"210"} and not rep["indexes"][0]["extra_checked"],
              f"--table of one shard: exit {rc}: {rep}")
        rc, rep, err = verify(es, "--repair")
        check(rc == 0 and rep["summary"]["fixed"] == 3, f"--repair: exit {rc}: {rep} {err[-600:]}")
        rc, rep, err = verify(es)
        check(rc == 0, f"verify after the repair: exit {rc}: {rep} {err[-600:]}")
        want = expected()
        want["998"] = {"id": 998, "v": "y", "deleted": True}
        wait_in_sync(p, lambda: want, timeout=30)
    finally:
        es.stop()


def test_verify_cli_exit_codes_and_pace():
    """Exit 2 on usage and configuration errors (no [mysql], no rule for --table, a bad --max-report), 3 when
    MySQL cannot be reached; the text report's last line; [reindex] max_rows_per_s paces the reads."""
    import time
    t = "vcli"
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO `{DB}`.`{t}` VALUES " +
        ",".join(f"({i}, {i})" for i in range(1, 301)) + ";")
    plain = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "snapshot": "never"}})

    def run(es, *args):
        p = subprocess.run([itlib.BIN, "verify", "-c", es.ini, *args], capture_output=True, env=es.env, timeout=120)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    p = subprocess.run([itlib.BIN, "verify", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.startswith("usage: canal-es verify") and "3 the run could not finish"
          in p.stdout, f"verify --help: {p.returncode} {p.stdout[:200]}")
    h = subprocess.run([itlib.BIN, "--help"], capture_output=True, text=True)
    check("canal-es verify -c FILE" in h.stdout, "the verify line of canal-es --help")
    rc, out, err = run(plain)
    check(rc == 2 and "[mysql] host (or socket) is not set" in err, f"no [mysql]: {rc} {err[-300:]}")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "snapshot": "never"}}), chunk_rows=50,
                   max_rows_per_s=100)
    rc, out, err = run(es, "--table", f"{DB}.nosuch")
    check(rc == 2 and "no [table] rule matches it" in err, f"--table without a rule: {rc} {err[-300:]}")
    rc, out, err = run(es, "--max-report", "x")
    check(rc == 2 and "--max-report" in err, f"bad --max-report: {rc} {err[-300:]}")
    start = time.monotonic()
    rc, out, err = run(es)
    took = time.monotonic() - start
    last = out.strip().splitlines()[-1] if out.strip() else ""
    check(rc == 1 and last == "verify: 1 tables, 300 rows, 0 documents, 300 missing, 0 extra, 0 different",
          f"an index that does not exist: every row missing: {rc} {out[-500:]} {err[-300:]}")
    check(f"{DB}.{t} -> {t}: 300 rows, 0 documents, 300 missing" in out and "(and 290 more)" in out, out[:600])
    check(took >= 2.5, f"300 rows at max_rows_per_s = 100 took {took:.1f} s")
    rc, out, err = run(es, "--repair")
    status, _ = http("GET", f"/{t}", ok=(200, 404))
    check(rc == 1 and status == 404 and f"index {t} does not exist: not repaired" in err,
          f"--repair never creates a missing index: {rc} {status} {err[-400:]}")
    text = open(es.ini).read().replace(f"port = {ENV['MYSQL_PORT']}", "port = 1")
    open(es.ini, "w").write(text)
    rc, out, err = run(es)
    check(rc == 3 and "mysql" in err and out == "", f"MySQL unreachable: {rc} {err[-300:]}")


def test_verify_hashed_ids_composite_key():
    """A composite key (VARCHAR(600), INT) whose joined value is longer than 512 bytes: every _id is a
    hashed `~sha256:` id that cannot be parsed back; verify still finds a deleted, a changed and an extra
    document (ids compared as the rows produce them), re-reads the rows by their composite key, and
    --repair fixes all three with no service running."""
    t = "vhash"
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (k VARCHAR(600) NOT NULL, n INT NOT NULL, v VARCHAR(20) NOT NULL, "
        f"PRIMARY KEY (k, n)) DEFAULT CHARSET=utf8mb4;")
    es = with_checkpoint(mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "snapshot": "never"}}),
                                   chunk_rows=7))
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES " +
            ",".join(f"('{'ké' * 295}{i % 4}', {i}, 'v{i}')" for i in range(1, 31)) + ";")

        def docs():
            http("POST", f"/{t}/_refresh", ok=(200, 404))
            _, r = http("POST", f"/{t}/_search", {"size": 100, "version": True}, ok=(200, 404))
            return {h["_id"]: h for h in r["hits"]["hits"]} if r and "hits" in r else {}
        got = poll(lambda: (lambda d: d if len(d) == 30 else None)(docs()), 60, "30 documents")
        check(all(i.startswith("~sha256:") for i in got), f"hashed ids: {list(got)[:2]}")
        rc, rep, err = verify(es)
        check(rc == 0 and rep["summary"]["rows"] == 30, f"in sync: exit {rc}: {rep} {err[-600:]}")
        by_n = {h["_source"]["n"]: i for i, h in got.items()}
        http("DELETE", f"/{t}/_doc/{by_n[3]}")
        d = got[by_n[5]]
        http("PUT", f"/{t}/_doc/{by_n[5]}?version={d['_version'] + 1}&version_type=external",
             dict(d["_source"], v="changed"))
        es.stop()  # the rest runs without a service: --repair needs none
        stray = "~sha256:" + "0" * 64
        http("PUT", f"/{t}/_doc/{stray}?version=1&version_type=external", {"k": "x", "n": 0, "v": "x"})
        http("POST", f"/{t}/_refresh")
        rc, rep, err = verify(es)
        got3 = (ids(rep, "missing"), ids(rep, "different"), ids(rep, "extra"))
        check(rc == 1 and got3 == ({by_n[3]}, {by_n[5]}, {stray}), f"drift: exit {rc}: {got3} {err[-600:]}")
        rc, rep, err = verify(es, "--repair")
        check(rc == 0 and rep["summary"]["fixed"] == 3, f"--repair: exit {rc}: {rep} {err[-600:]}")
        rc, rep, err = verify(es)
        check(rc == 0 and len(docs()) == 30, f"after the repair: exit {rc}: {rep} {err[-600:]}")
    finally:
        es.stop()


TESTS = [test_verify_finds_and_repairs_injected_drift, test_verify_under_concurrent_writes,
         test_verify_sharded_tables_soft_delete, test_verify_cli_exit_codes_and_pace,
         test_verify_hashed_ids_composite_key]
