"""The snapshot (initial load / reindex, docs/reindex.md) on the real stack: `canal-es snapshot --dry-run`
prints for every row the same document the stream produces for it (every type, both position methods),
pages composite keys in chunks, refuses tables without a usable key, gets a version between the stream's
earlier and later events of the row; check-config gives a [mysql] verdict."""
import json
import subprocess
import threading

import itlib
from harness import ENV, CanalEs, check, http, poll, sql
from itlib import DB

FLOAT_ROWS = """SET SESSION sql_mode = '', time_zone = '+00:00';
INSERT INTO `{db}`.`{t}` (id, f, dbl, ts, dtm, b1, b64) VALUES
(10, 1e10, 1e10, '2024-03-31 01:59:59.999', '2024-03-31 01:59:59', b'0', b'101'),
(11, 0.1, 0.1, '1970-01-01 00:00:01', '1000-01-01 00:00:00', b'1', b'0'),
(12, 3.1415927, 123456789.125, '2038-01-19 03:14:07.999', '9999-12-31 23:59:59.999999', NULL, NULL),
(13, -1.5e-7, 0.001, NULL, NULL, NULL, NULL),
(14, 1234567, 1e7, NULL, NULL, NULL, NULL),
(15, 3.4e38, -1.7976931348623157e308, NULL, NULL, NULL, NULL),
(16, 0.0001, 1e-4, NULL, NULL, NULL, NULL);
"""


def mysql_ini(es, **reindex):
    """Adds [mysql] (the stack's server, password from the environment) and [reindex] to es's INI file."""
    lines = ["", "[mysql]", f"host = {ENV['MYSQL_HOST']}", f"port = {ENV['MYSQL_PORT']}",
             f"user = {ENV['MYSQL_USER']}", "password = ${IT_MYSQL_PASSWORD}", ""]
    if reindex:
        lines += ["[reindex]"] + [f"{k} = {v}" for k, v in reindex.items()] + [""]
    with open(es.ini, "a") as f:
        f.write("\n".join(lines))
    es.env = dict(es.env, IT_MYSQL_PASSWORD=ENV["MYSQL_PASSWORD"])
    return es


def set_reindex(es, **kv):
    text = open(es.ini).read()
    if "\n[reindex]\n" not in text:
        text += "\n[reindex]\n"
    head, rest = text.split("\n[reindex]\n", 1)
    keep = [x for x in rest.split("\n") if x.split(" = ")[0] not in kv]
    open(es.ini, "w").write(head + "\n[reindex]\n" + "\n".join([f"{k} = {v}" for k, v in kv.items()] + keep))


def snapshot(es, t, *extra):
    p = subprocess.run([itlib.BIN, "snapshot", "-c", es.ini, "--table", f"{DB}.{t}", "--dry-run", *extra],
                       capture_output=True, env=es.env, timeout=180)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def pairs(ndjson, index):
    """(action, document line bytes) of every index action of `index`, in order."""
    lines = ndjson.split(b"\n")
    out = []
    i = 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        a = json.loads(lines[i])
        op = next(iter(a))
        if op == "delete":
            i += 1
            if a["delete"]["_index"] == index:
                out.append((a, None))
            continue
        if a[op]["_index"] == index:
            out.append((a, lines[i + 1]))
        i += 2
    return out


def stream(es, index):
    """What the stream sends for `index`: `run --dry-run` (acks nothing, so a later dry run sees it again)."""
    p = subprocess.run([itlib.BIN, "run", "--dry-run", "-c", es.ini], capture_output=True, env=es.env, timeout=180)
    check(p.returncode == 0, f"run --dry-run exit {p.returncode}: {p.stderr.decode(errors='replace')[-600:]}")
    return pairs(p.stdout, index)


def by_id(ps):
    return {a[next(iter(a))]["_id"]: (a, doc) for a, doc in ps}


def test_snapshot_documents_equal_the_stream():
    """Every type (the table of test_every_type plus FLOAT/DOUBLE/TIMESTAMP/BIT edge values), a rule with
    convert, rename, add_field, id_prefix and routing: the snapshot's document of each row is byte-equal to
    the stream's, with position = binlog_snapshot and = lock_tables; its version is not below the stream's."""
    from run import ALLTYPES_DDL, ALLTYPES_ROWS
    t = "snapall"
    sql(ALLTYPES_DDL.format(db=DB, t=t) + ";")
    sql(ALLTYPES_ROWS.replace("{db}", DB).replace("{t}", t) + FLOAT_ROWS.format(db=DB, t=t))
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {
        "index": t, "convert": "bin:base64, vb:base64, bt:base64, j:json", "rename": "vc:vc_renamed",
        "add_field": "origin:mysql", "id_prefix": "{table}:", "routing": "id"}}))
    want = by_id(stream(es, t))
    check(len(want) == 10, f"the stream sends the 10 rows: {sorted(want)}")
    versions = {}
    for method in ("binlog_snapshot", "lock_tables"):
        set_reindex(es, position=method, chunk_rows=4)
        rc, out, err = snapshot(es, t)
        check(rc == 0, f"snapshot ({method}) exit {rc}: {err[-800:]}")
        check("10 rows in 3 chunks" in err and f"position = {method}" in err, f"summary ({method}): {err[-400:]}")
        got = by_id(pairs(out, t))
        check(sorted(got) == sorted(want), f"{method}: the same ids: {sorted(got)} vs {sorted(want)}")
        for i, (a, doc) in got.items():
            wa, wdoc = want[i]
            check(doc == wdoc, f"{method}: row {i}: snapshot document\n  {doc!r}\nstream document\n  {wdoc!r}")
            sa, ta = dict(a["index"]), dict(wa["index"])
            sv, tv = sa.pop("version"), ta.pop("version")
            check(sa == ta, f"{method}: row {i}: action line {sa} vs {ta}")
            check(sv >= tv, f"{method}: row {i}: snapshot version {sv} below the insert's {tv}")
            versions.setdefault(method, set()).add(sv)
    check(versions["binlog_snapshot"] == versions["lock_tables"] and len(versions["lock_tables"]) == 1,
          f"with no writes both methods find the same position: {versions}")


def test_snapshot_composite_key_chunks():
    """A composite primary key (INT, VARCHAR) with chunk_rows = 3 over 10 rows: every row once, in key order,
    in 4 chunks; the chunk queries use the expanded predicate (no row constructor, no OFFSET) and MariaDB
    reads them as an index range."""
    t = "snapkeys"
    sql(f"CREATE TABLE `{DB}`.`{t}` (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b)) "
        f"DEFAULT CHARSET=utf8mb4;")
    rows = [(1, "x"), (1, "y"), (1, "z"), (2, "a"), (2, "é"), (3, "it's"), (3, "q`q"), (3, "r"), (4, "0"), (10, "")]
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES " + ",".join(
        f"({a}, '{b.replace(chr(39), chr(39) * 2)}', {n})" for n, (a, b) in enumerate(reversed(rows))) + ";")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), chunk_rows=3)
    rc, out, err = snapshot(es, t, "--log-level", "debug")
    check(rc == 0, f"snapshot exit {rc}: {err[-800:]}")
    ids = [a["index"]["_id"] for a, _ in pairs(out, t)]
    check(ids == [f"{a}_{b}" for a, b in rows], f"every row once, in key order: {ids}")
    check("10 rows in 4 chunks of up to 3 on key PRIMARY" in err, f"summary: {err[-400:]}")
    chunks = [x.split("read at binlog ", 1)[1].split(": ", 1)[1] for x in err.splitlines() if "read at binlog" in x]
    check(len(chunks) == 4, f"4 chunk queries logged: {chunks}")
    check(chunks[1].endswith("WHERE `a` > 1 OR (`a` = 1 AND `b` > _utf8mb4 X'7A' COLLATE utf8mb4_general_ci) "
                             "ORDER BY `a`, `b` LIMIT 3"), f"second chunk: {chunks[1]}")
    check(all("OFFSET" not in q and "(`a`, `b`) >" not in q for q in chunks), "no offset, no row constructor")
    plan = sql("EXPLAIN " + chunks[2] + ";", db=DB)
    check(plan and plan[0].split("\t")[3] == "range" and plan[0].split("\t")[5] == "PRIMARY",
          f"MariaDB reads a chunk as a range of PRIMARY: {plan}")


def test_snapshot_refuses_a_table_without_key():
    """No primary key and no unique key of NOT NULL columns (a nullable unique key does not count): refused
    with a message naming the table; a NOT NULL unique key is paged on."""
    for t, ddl in (("snapnokey", "a INT, b INT"), ("snapnulluk", "a INT NULL, b INT, UNIQUE KEY uk (a)")):
        sql(f"CREATE TABLE `{DB}`.`{t}` ({ddl}); INSERT INTO `{DB}`.`{t}` VALUES (1, 2);")
        es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "id": "a"}}))
        rc, out, err = snapshot(es, t)
        check(rc == 1 and f"table {DB}.{t} has no primary key and no unique key of NOT NULL columns" in err
              and out == b"", f"{t}: refused naming the table: {rc} {err[-500:]}")
    t = "snapuk"
    sql(f"CREATE TABLE `{DB}`.`{t}` (a INT NULL, code VARCHAR(8) NOT NULL, UNIQUE KEY byname (code)); "
        f"INSERT INTO `{DB}`.`{t}` VALUES (1, 'b'), (2, 'a'), (NULL, 'c');")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "id": "code"}}), chunk_rows=2)
    rc, out, err = snapshot(es, t)
    check(rc == 0 and [a["index"]["_id"] for a, _ in pairs(out, t)] == ["a", "b", "c"] and "on key byname" in err,
          f"a NOT NULL unique key is paged on: {rc} {out[:300]!r} {err[-300:]}")


def test_snapshot_check_config_mysql_verdicts():
    """check-config: [mysql] ok names the server and server_id; a wrong password and an unreachable port
    are each a FAIL naming host:port and what to check, never the password."""
    t = "snapcheck"
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY);")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}))
    p = subprocess.run([itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True, env=es.env,
                       timeout=120)
    peer = f"mysql {ENV['MYSQL_HOST']}:{ENV['MYSQL_PORT']}"
    check(f"ok    {peer}: " in p.stdout and "server_id 1," in p.stdout and "position = binlog_snapshot" in p.stdout
          and f"ok    table {DB}.{t} (line" in p.stdout and "paging on key PRIMARY" in p.stdout,
          f"[mysql] ok verdicts: {p.stdout}")
    for env, port, want in ((dict(es.env, IT_MYSQL_PASSWORD="wrong-sekrit"), ENV["MYSQL_PORT"],
                             "Access denied for user"),
                            (es.env, "1", "check [mysql] host, port")):
        text = open(es.ini).read().replace(f"port = {ENV['MYSQL_PORT']}", f"port = {port}")
        bad = es.ini + ".bad"
        open(bad, "w").write(text)
        p = subprocess.run([itlib.BIN, "check-config", "-c", bad], capture_output=True, text=True, env=env,
                           timeout=120)
        line = [x for x in p.stdout.splitlines() if x.startswith(f"FAIL  mysql {ENV['MYSQL_HOST']}:{port}: ")]
        check(p.returncode == 1 and line and want in line[0] and "wrong-sekrit" not in p.stdout + p.stderr,
              f"a FAIL verdict naming the server: {p.returncode} {p.stdout}")
    check("check [mysql] user and password" in subprocess.run(
        [itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True,
        env=dict(es.env, IT_MYSQL_PASSWORD="wrong-sekrit"), timeout=120).stdout, "the hint names user and password")


def test_snapshot_missing_privileges():
    """A [mysql] user without BINLOG MONITOR (lock_tables reads SHOW MASTER STATUS): check-config FAILs with the
    server's message and what to grant; one that may not see the table: a FAIL naming the table; one with
    SELECT but without LOCK TABLES: the lock_tables snapshot fails with the server's message and
    the privilege hint."""
    t = "snappriv"
    user = f"snap_{itlib.RID}"
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY); INSERT INTO `{DB}`.`{t}` VALUES (1);"
        f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw';")
    try:
        es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), position="lock_tables")
        text = open(es.ini).read().replace(f"user = {ENV['MYSQL_USER']}", f"user = {user}")
        open(es.ini, "w").write(text)
        es.env = dict(es.env, IT_MYSQL_PASSWORD="pw")
        def verdicts():
            return subprocess.run([itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True,
                                  env=es.env, timeout=120)
        p = verdicts()
        check(p.returncode == 1 and "BINLOG MONITOR privilege" in p.stdout and
              "position = lock_tables reads SHOW MASTER STATUS: grant REPLICATION CLIENT" in p.stdout,
              f"no binlog privilege: {p.stdout}")
        sql(f"GRANT BINLOG MONITOR ON *.* TO '{user}'@'%'; GRANT BINLOG MONITOR ON *.* TO '{user}'@'localhost';")
        p = verdicts()
        check(p.returncode == 1 and f"FAIL  table {DB}.{t} (line" in p.stdout and
              f"table {DB}.{t} does not exist (or the [mysql] user may not see it)" in p.stdout,
              f"no privilege: {p.stdout}")
        sql(f"GRANT SELECT ON `{DB}`.`{t}` TO '{user}'@'%'; GRANT SELECT ON `{DB}`.`{t}` TO '{user}'@'localhost';")
        rc, out, err = snapshot(es, t)
        check(rc == 1 and "a privilege of the [mysql] user is missing" in err and out == b"",
              f"SELECT without LOCK TABLES: {rc} {err[-500:]}")
    finally:
        sql(f"DROP USER IF EXISTS '{user}'@'%'; DROP USER IF EXISTS '{user}'@'localhost';")


def test_snapshot_version_below_later_stream_event():
    """A row's snapshot version is at least its insert's and below the version of a later UPDATE of it."""
    t = "snapver"
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY, v INT); INSERT INTO `{DB}`.`{t}` VALUES (1, 1), (2, 2);")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}))
    for method in ("binlog_snapshot", "lock_tables"):
        set_reindex(es, position=method)
        rc, out, err = snapshot(es, t)
        check(rc == 0, f"snapshot exit {rc}: {err[-600:]}")
        snap = {a["index"]["_id"]: a["index"]["version"] for a, _ in pairs(out, t)}
        sql(f"UPDATE `{DB}`.`{t}` SET v = v + 10 WHERE id = 1;")
        events = [(a[next(iter(a))]["_id"], a[next(iter(a))]["version"], doc) for a, doc in stream(es, t)]
        first = {i: v for i, v, _ in reversed(events)}
        last = [(v, doc) for i, v, doc in events if i == "1"][-1]
        check(first["1"] <= snap["1"] and first["2"] <= snap["2"], f"{method}: insert {first} <= snapshot {snap}")
        check(last[0] > snap["1"], f"{method}: the later update's version {last[0]} must exceed the snapshot's "
                                   f"{snap['1']}")


def test_snapshot_under_writes_loses_no_update():
    """While a writer updates rows and the stream (a real run) indexes them, snapshot the table
    (chunk_rows = 10, 20 chunks read at different positions) with each position method, the writes stopping
    when the snapshot ends; then send both
    snapshots' NDJSON to the node, after the stream has caught up: external versioning must refuse every
    snapshot document older than the stream's, so the index still equals the table (a position too high
    would overwrite newer documents with older rows)."""
    import random
    from harness import delete_index, index_docs, rows_as_docs, wait_in_sync
    t = "snapbusy"
    n = 200
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO `{DB}`.`{t}` VALUES " +
        ",".join(f"({i}, 0)" for i in range(1, n + 1)) + ";")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), chunk_rows=10)
    expected = lambda: rows_as_docs(DB, t, ["id", "v"], [], ["id"])  # noqa: E731
    es.start()
    try:
        snaps = []
        for method in ("binlog_snapshot", "lock_tables"):
            set_reindex(es, position=method)
            rnd = random.Random(7)
            # writes without pause (killed when the snapshot ends)
            script = "".join(f"UPDATE `{DB}`.`{t}` SET v = v + 1 WHERE id = {rnd.randint(1, n)};\n"
                             for _ in range(30000))
            cmd = ["mariadb", "--protocol=TCP", "-h", ENV["MYSQL_HOST"], "-P", ENV["MYSQL_PORT"],
                   "-u", ENV["MYSQL_USER"]]
            w = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=dict(ENV, MYSQL_PWD=ENV["MYSQL_PASSWORD"]))

            def feed():
                try:
                    w.stdin.write(script.encode())
                    w.stdin.close()
                except (BrokenPipeError, ValueError):  # killed when the snapshot ended
                    pass
            feeder = threading.Thread(target=feed, daemon=True)
            feeder.start()
            try:
                before = int(sql(f"SELECT SUM(v) FROM `{DB}`.`{t}`;")[0])
                poll(lambda: int(sql(f"SELECT SUM(v) FROM `{DB}`.`{t}`;")[0]) > before + 50, 60, "the writer")
                rc, out, err = snapshot(es, t)
                busy = w.poll() is None
            finally:
                # no write after the snapshot: a row changed behind a chunk's read view is not rescued by a
                # later update, so a chunk position too high shows as a stale document
                w.kill()
                w.wait(timeout=300)
                feeder.join(timeout=60)
            check(rc == 0, f"snapshot ({method}) exit {rc}: {err[-600:]}")
            check(busy, f"{method}: the writer had stopped before the snapshot ended (make it write longer)")
            got = pairs(out, t)
            check(len(got) == n, f"{method}: {len(got)} rows in the snapshot")
            positions = {a["index"]["version"] for a, _ in got}
            check(len(positions) > 1, f"{method}: the chunks were read at different positions: {positions}")
            snaps.append((method, out))
        wait_in_sync(t, expected, timeout=120)
        for method, out in snaps:
            _, r = http("POST", "/_bulk", out if out.endswith(b"\n") else out + b"\n")
            statuses = [next(iter(x.values()))["status"] for x in r["items"]]
            check(all(s in (200, 201, 409) for s in statuses), f"{method}: bulk statuses {set(statuses)}")
            docs = index_docs(t)
            want = expected()
            lost = {i: (docs.get(i), want[i]) for i in want if docs.get(i) != want[i]}
            check(not lost, f"{method}: the snapshot overwrote {len(lost)} newer documents: "
                            f"{dict(list(lost.items())[:5])}")
            check(statuses.count(409) > 0, f"{method}: some snapshot rows are older than the stream's")
    finally:
        es.stop()


def shard_tables(prefix, counts):
    """Tables prefix_0.. with counts[k] rows each (ids k*100+i, distinct across shards); returns
    {table: {id: (id, v)}} as MariaDB holds them."""
    out = {}
    for k, n in enumerate(counts):
        t = f"{prefix}_{k}"
        sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL) DEFAULT CHARSET=utf8mb4; "
            f"INSERT INTO `{DB}`.`{t}` VALUES " +
            ",".join(f"({k * 100 + i}, 'row {k}-{i} é')" for i in range(1, n + 1)) + ";")
        out[t] = {int(r.split("\t")[0]): r.split("\t")[1] for r in sql(f"SELECT id, v FROM `{DB}`.`{t}`;")}
    return out


def rows_by_table(out, prefix):
    """[(table, index, id, doc)] of the NDJSON in order; table from the index name PREFIX_TABLE."""
    got = []
    lines = [x for x in out.split(b"\n") if x]
    for a, d in zip(lines[0::2], lines[1::2]):
        act = json.loads(a)["index"]
        got.append((act["_index"][len(prefix) + 1:], act["_index"], act["_id"], json.loads(d)))
    return got


def test_snapshot_regex_rule_all_tables():
    """A regex rule over 3 sharded tables (plus a view and a table it does not match): the log names the 3
    tables it covers, `--all-tables` prints every row of every shard exactly once, shard by shard in name
    order, each into the index of its table, with the stream's document; `--table` alone prints one shard
    (with the row estimate of information_schema); the view the regex matches is refused."""
    p = "snapshard"
    want = shard_tables(p, [5, 1, 7])
    sql(f"CREATE VIEW `{DB}`.`{p}_9` AS SELECT * FROM `{DB}`.`{p}_0`; "
        f"CREATE TABLE `{DB}`.`{p}x_0` (id INT PRIMARY KEY); INSERT INTO `{DB}`.`{p}x_0` VALUES (1);")
    es = mysql_ini(CanalEs(itlib.BIN, {f"/^{DB}\\.{p}_[0-9]+$/": {"index": f"{p}_{{table}}"}}), chunk_rows=2)
    rc, out, err = snapshot(es, f"{p}_1", "--all-tables")
    check(rc == 0, f"snapshot --all-tables exit {rc}: {err[-800:]}")
    names = ", ".join(f"{DB}.{p}_{k}" for k in range(3))
    check(f"covers 3 table(s) on the server: {names}" in err, f"the rule's tables logged: {err[-800:]}")
    check("13 rows of 3 table(s), nothing sent" in err, f"total: {err[-400:]}")
    got = rows_by_table(out, p)
    check([t for t, _, _, _ in got] == sorted(t for t, _, _, _ in got), f"shard by shard: {[g[0] for g in got]}")
    seen = [(t, int(i)) for t, _, i, _ in got]
    check(sorted(seen) == sorted((t, i) for t in want for i in want[t]) and len(set(seen)) == len(seen),
          f"every row of every shard exactly once: {seen}")
    for t, index, i, doc in got:
        check(index == f"{p}_{t}" and doc == {"id": int(i), "v": want[t][int(i)]},
              f"row {t}/{i}: index {index}, document {doc}")
    for t in want:  # the stream's documents for the same rows are byte-equal
        streamed = by_id(stream(es, f"{p}_{t}"))
        snapped = by_id(pairs(out, f"{p}_{t}"))
        check(sorted(streamed) == sorted(snapped) and all(streamed[i][1] == snapped[i][1] for i in snapped),
              f"{t}: snapshot documents equal the stream's: {sorted(snapped)} vs {sorted(streamed)}")
    rc, out, err = snapshot(es, f"{p}_9")
    check(rc == 1 and out == b"" and f"{DB}.{p}_9 is not among the tables of rule" in err,
          f"a view the regex matches is refused: {rc} {err[-400:]}")
    sql(f"ANALYZE TABLE `{DB}`.`{p}_2`;")  # TABLE_ROWS of InnoDB is exact for a small analyzed table
    rc, out, err = snapshot(es, f"{p}_2")
    check(f"{DB}.{p}_2: 7 rows in 4 chunks" in err and "information_schema estimated 7 rows" in err,
          f"the row estimate from information_schema.TABLES: {err[-500:]}")
    check(rc == 0 and f"covers 3 table(s) on the server: {names}" in err and
          sorted(int(i) for _, _, i, _ in rows_by_table(out, p)) == sorted(want[f"{p}_2"]),
          f"--table alone prints its shard and logs the rule's tables: {rc} {err[-600:]}")


def test_snapshot_regex_rule_skips_claimed_tables():
    """A table the regex matches but an earlier plain rule claims is the plain rule's (as for the stream):
    not listed for, nor read with, the regex rule; read alone with the plain rule's index; check-config
    lists the regex rule's 2 tables and warns that a plain rule below the regex is never used. A regex
    matching no table: --all-tables fails with exit 1."""
    p = "snapclaim"
    want = shard_tables(p, [2, 3, 4])
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{p}_1": {"index": f"{p}_plain"},
                                       f"/^{DB}\\.{p}_[0-9]+$/": {"index": f"{p}_{{table}}"},
                                       f"/^{DB}\\.{p}none_[0-9]+$/": {"index": f"{p}_none"},
                                       f"{DB}.{p}_2": {"index": f"{p}_late"}}))
    rc, out, err = snapshot(es, f"{p}_0", "--all-tables")
    check(rc == 0 and f"covers 2 table(s) on the server: {DB}.{p}_0, {DB}.{p}_2" in err,
          f"the claimed table is not the regex rule's: {rc} {err[-600:]}")
    got = sorted((t, int(i)) for t, _, i, _ in rows_by_table(out, p))
    check(got == sorted((t, i) for t in (f"{p}_0", f"{p}_2") for i in want[t]), f"rows of shards 0 and 2: {got}")
    rc, out, err = snapshot(es, f"{p}_1", "--all-tables")
    ids = [(a["index"]["_index"], int(a["index"]["_id"])) for a, _ in pairs(out, f"{p}_plain")]
    check(rc == 0 and sorted(ids) == sorted((f"{p}_plain", i) for i in want[f"{p}_1"]) and
          len(out.split(b"\n")) == 2 * len(ids) + 1 and "covers" not in err,
          f"the claimed table alone, into the plain rule's index: {rc} {ids} {err[-400:]}")
    rc, out, err = snapshot(es, f"{p}none_0", "--all-tables")
    check(rc == 1 and out == b"" and "covers no table on mysql" in err,
          f"a regex rule covering no table: {rc} {err[-300:]}")
    p2 = subprocess.run([itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True, env=es.env,
                        timeout=120)
    check(f"snapshot loads 2 table(s): {DB}.{p}_0, {DB}.{p}_2" in p2.stdout and
          f"none_[0-9]+$/ (line" in p2.stdout and "matches no base table on mysql" in p2.stdout and
          f"warn  table {DB}.{p}_2 (line" in p2.stdout and "this one is never used" in p2.stdout,
          f"check-config lists the regex rules' tables: {p2.stdout}")


def test_snapshot_check_config_server_id():
    """check-config --peek compares [mysql]'s @@server_id with the serverId of Canal's waiting entries: ok
    for the stack's MariaDB (the server Canal reads); FAIL naming both ids once the server's server_id is
    changed (SET GLOBAL server_id: the waiting entries keep the old id), restored after; without --peek the
    [mysql] line says the comparison needs it; with nothing waiting (a run acked it all) a warning says why
    nothing was compared."""
    from harness import delete_index, index_docs
    t = "snapsid"
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (id INT PRIMARY KEY); INSERT INTO `{DB}`.`{t}` VALUES (1);")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}))
    peer = f"{ENV['MYSQL_HOST']}:{ENV['MYSQL_PORT']}"

    def verdicts(*extra):
        return subprocess.run([itlib.BIN, "check-config", "-c", es.ini, *extra], capture_output=True, text=True,
                              env=es.env, timeout=120)
    p = verdicts()
    check(p.returncode == 0 and f"mysql {peer}: " in p.stdout and
          "(not compared with the serverId of Canal's entries: that needs --peek" in p.stdout,
          f"without --peek: not compared, and why: {p.stdout}")
    own = int(sql("SELECT @@GLOBAL.server_id;")[0])
    p = verdicts("--peek")
    check(p.returncode == 0 and f"ok    mysql {peer}: server_id {own} equals the serverId of Canal's newest "
                                "waiting entry" in p.stdout, f"--peek, the server Canal reads: {p.stdout}")
    other = own + 1000
    sql(f"SET GLOBAL server_id = {other};")
    try:
        p = verdicts("--peek")
    finally:
        sql(f"SET GLOBAL server_id = {own};")
    check(p.returncode == 1 and f"FAIL  [mysql] {peer} has server_id {other} but Canal's entries come from "
                                f"serverId {own}: the snapshot would read another server" in p.stdout,
          f"--peek, another server_id: {p.stdout}")
    attempt = [1]

    def drain():
        """A run indexes a new row (acking what it read), then check-config --peek; again when an entry
        of the row's transaction was still waiting (Canal may hand out its end in a later batch)."""
        attempt[0] += 1
        es.start()
        try:
            sql(f"INSERT INTO `{DB}`.`{t}` VALUES ({attempt[0]});")
            poll(lambda: len(index_docs(t)) == attempt[0], 60, "the run indexes the rows")
        finally:
            es.stop()
        p = verdicts("--peek")
        return p if "not compared" in p.stdout or attempt[0] > 4 else None
    p = poll(drain, 120, "nothing waiting in Canal after a run", interval=0)
    check(p.returncode == 0 and f"warn  mysql {peer}: server_id {own} not compared with the serverId of Canal's "
                                "entries: no entry was waiting in Canal" in p.stdout,
          f"--peek with nothing waiting: {p.stdout}")


TESTS = [test_snapshot_documents_equal_the_stream, test_snapshot_composite_key_chunks,
         test_snapshot_refuses_a_table_without_key, test_snapshot_check_config_mysql_verdicts,
         test_snapshot_missing_privileges,
         test_snapshot_version_below_later_stream_event, test_snapshot_under_writes_loses_no_update,
         test_snapshot_regex_rule_all_tables, test_snapshot_regex_rule_skips_claimed_tables,
         test_snapshot_check_config_server_id]
