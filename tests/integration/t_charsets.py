"""Text in non-UTF-8 columns (docs/type-mapping.md, "Character sets"): Canal decodes every text column as UTF-8
and garbles gbk, big5, sjis, euckr and latin1 text; with [mysql] canal-es reads that text back by key and the
index equals the table exactly (inserts, updates of either kind of column, deletes, rows changed or deleted
again before canal-es reads them); the snapshot produces the same bytes; without [mysql] every such column is
named in a warning, counted in /metrics, and check-config names the columns with their charsets."""
import json
import subprocess

import itlib
from harness import CanalEs, check, delete_index, index_docs, poll, sql
from itlib import DB
from t_metrics import free_port, get, samples, with_http
from t_snapshot import by_id, mysql_ini, pairs, snapshot, stream

COLS = [("g", "gbk"), ("b", "big5"), ("s", "sjis"), ("k", "euckr"), ("l", "latin1"), ("u", "utf8mb4")]
TEXT = {  # per column: values its charset can hold
    "g": ["测试中文", "简体字：你好，世界", "一", "二", "GBK 丂 ascii~"],
    "b": ["測試", "繁體中文字", "許功蓋"],
    "s": ["テスト日本語", "ｶﾀｶﾅ表ソ", "予定"],
    "k": ["테스트", "한국어 문장", "가"],
    "l": ["café ÿ", "Größe € ½", "naïve"],
    "u": ["ok✓😀", "混合 text", "plain"],
}


def ddl(t):
    delete_index(t)  # index names are not per run
    cols = ", ".join(f"`{c}` VARCHAR(40) CHARACTER SET {cs} NULL" for c, cs in COLS)
    return f"CREATE TABLE `{DB}`.`{t}` (id INT NOT NULL PRIMARY KEY, {cols}, n INT NULL, " \
           f"t TEXT CHARACTER SET gbk NULL) DEFAULT CHARSET=utf8mb4;"


def q(v):
    return "NULL" if v is None else "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"


def row(i, pick=0, n=None):
    vals = {c: TEXT[c][(i + pick) % len(TEXT[c])] for c, _ in COLS}
    vals["t"] = TEXT["g"][(i + pick + 1) % len(TEXT["g"])] * 3
    vals["n"] = i if n is None else n
    return vals


def insert(t, rows):
    names = ["id"] + [c for c, _ in COLS] + ["n", "t"]
    values = ", ".join("(" + ", ".join([str(i)] + [q(r[c]) for c, _ in COLS] + [str(r["n"]), q(r["t"])]) + ")"
                       for i, r in rows.items())
    return f"INSERT INTO `{DB}`.`{t}` ({', '.join(names)}) VALUES {values};"


def table_docs(t):
    """The table read through a utf8mb4 connection, as the documents canal-es should index."""
    text = [c for c, _ in COLS] + ["t"]  # converted as the utf8mb4 connection converts them
    fields = ", ".join(f"'{c}', CONVERT(`{c}` USING utf8mb4)" if c in text else f"'{c}', `{c}`"
                       for c in ["id"] + [c for c, _ in COLS] + ["n", "t"])
    out = {}
    for line in sql(f"SELECT JSON_OBJECT({fields}) FROM `{DB}`.`{t}` ORDER BY id;"):
        d = json.loads(line)
        out[str(d["id"])] = d
    return out


def wait_equal(t, timeout=45):
    def same():
        want, got = table_docs(t), index_docs(t)
        return want == got or None
    try:
        poll(same, timeout, f"index {t} to equal table {t}")
    except AssertionError:
        want, got = table_docs(t), index_docs(t)
        bad = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
        raise AssertionError(f"index {t} differs from the table: {dict(list(bad.items())[:4])}")


def test_charsets_stream_exact():
    """With [mysql]: every column of every charset reaches the index as MySQL holds it, through inserts, updates
    that change only a non-UTF-8 column or only another one, deletes, a row changed twice, a row inserted and
    deleted, and a row re-keyed and deleted while canal-es was stopped (read back: gone)."""
    t = "cs_stream"
    sql(ddl(t))
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}))
    port = free_port()
    with_http(es, port)
    sql(insert(t, {i: row(i) for i in range(1, 9)}) + insert(t, {i: row(i, 2) for i in range(30, 36)}) +
        insert(t, {20: {**{c: "ascii only" for c, _ in COLS}, "n": 20, "t": None}}) +
        f"INSERT INTO `{DB}`.`{t}` (id, g, n) VALUES (21, NULL, NULL);")
    es.start()
    try:
        wait_equal(t)
        docs = index_docs(t)
        check(docs["1"]["g"] == row(1)["g"] and docs["1"]["l"] == row(1)["l"], f"row 1: {docs['1']}")
        sql(f"UPDATE `{DB}`.`{t}` SET g = '{TEXT['g'][1]}' WHERE id = 1;"  # only a non-UTF-8 column
            f"UPDATE `{DB}`.`{t}` SET n = 200 WHERE id = 2;"                # only a number
            f"UPDATE `{DB}`.`{t}` SET u = 'changed ✓' WHERE id = 3;"        # only the utf8mb4 column
            f"UPDATE `{DB}`.`{t}` SET l = 'ÿ only', k = '가나다' WHERE id = 6;"
            f"DELETE FROM `{DB}`.`{t}` WHERE id = 4;")
        wait_equal(t)
        check(index_docs(t)["1"]["g"] == TEXT["g"][1], "row 1's updated gbk text")
        es.stop()
        # while canal-es is stopped: each of these events is read after the row changed again or went away
        sql(f"UPDATE `{DB}`.`{t}` SET g = '一' WHERE id = 5; UPDATE `{DB}`.`{t}` SET g = '二', b = '許' WHERE id = 5;"
            + insert(t, {7000: row(7)}) + f"DELETE FROM `{DB}`.`{t}` WHERE id = 7000;"
            f"UPDATE `{DB}`.`{t}` SET id = 9, s = '予定' WHERE id = 8; DELETE FROM `{DB}`.`{t}` WHERE id = 9;"
            f"UPDATE `{DB}`.`{t}` SET t = NULL, g = NULL WHERE id = 7;"
            # one event of many rows (read with one query), some gone or re-keyed by the time it is read
            + insert(t, {i: row(i) for i in range(7001, 7004)}) + f"DELETE FROM `{DB}`.`{t}` WHERE id = 7002;"
            f"UPDATE `{DB}`.`{t}` SET g = CONCAT(g, '改'), s = 'ソ' WHERE id BETWEEN 30 AND 35;"
            f"DELETE FROM `{DB}`.`{t}` WHERE id = 32; UPDATE `{DB}`.`{t}` SET id = 133 WHERE id = 33;"
            f"DELETE FROM `{DB}`.`{t}` WHERE id = 133;")
        es.start()
        wait_equal(t)
        docs = index_docs(t)
        check(not {"8", "9", "7000", "7002", "32", "33", "133"} & set(docs), f"gone rows: {sorted(docs)}")
        check(docs["31"]["g"].endswith("改") and docs["7003"]["k"] == row(7003)["k"], f"rows 31, 7003: {docs['31']}")
        check(docs["5"]["g"] == "二" and docs["5"]["b"] == "許", f"row 5 changed twice: {docs['5']}")
        base = f"http://127.0.0.1:{port}"
        m = samples(poll(lambda: get(base + "/metrics")[1], 10, "/metrics"))
        check(m.get("canal_es_charset_rows_gone_total", 0) >= 5, f"gone rows counted: {m.get('canal_es_charset_rows_gone_total')}")
        check(m.get("canal_es_charset_reads_total", 0) >= 3, "reads counted")
        check(not any(k.startswith("canal_es_text_replaced_values_total{") for k in m),
              f"no value indexed with U+FFFD: {[k for k in m if 'replaced' in k]}")
        log = es.log_text()
        check("garbles column(s) g (gbk), b (big5), s (sjis), k (euckr), l (latin1), t (gbk)" in log,
              f"the charset line names the columns: {es.tail(20)}")
        reads, secs = m["canal_es_charset_reads_total"], m["canal_es_charset_read_seconds_total"]
        print(f"    read back {reads:.0f} rows in {secs * 1000:.1f} ms ({secs / reads * 1e6:.0f} us per row)")
    finally:
        es.stop()


def test_charsets_snapshot_equals_stream():
    """The snapshot's documents of these columns are byte-equal to the stream's; check-config names the
    columns Canal garbles with their charsets."""
    t = "cs_snap"
    sql(ddl(t))
    sql(insert(t, {i: row(i, 1) for i in range(1, 7)}) + insert(t, {7: {**row(7), "g": None, "t": ""}}))
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}))
    want = by_id(stream(es, t))
    check(len(want) == 7, f"the stream sends the 7 rows: {sorted(want)}")
    rc, out, err = snapshot(es, t)
    check(rc == 0, f"snapshot exit {rc}: {err[-600:]}")
    got = by_id(pairs(out, t))
    check(sorted(got) == sorted(want), f"the same ids: {sorted(got)} vs {sorted(want)}")
    for i, (a, doc) in got.items():
        check(doc == want[i][1], f"row {i}: snapshot document\n  {doc!r}\nstream document\n  {want[i][1]!r}")
    check(json.loads(got["1"][1])["s"] == TEXT["s"][2], f"the text is right, not only equal: {got['1'][1]!r}")
    p = subprocess.run([itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True, env=es.env,
                       timeout=60)
    check(f"table {DB}.{t} (line" in p.stdout and "column(s) g (gbk), b (big5), s (sjis), k (euckr), l (latin1), "
          "t (gbk): Canal decodes text as UTF-8" in p.stdout, f"check-config names the columns:\n{p.stdout}")


def test_charsets_without_mysql_warns():
    """Without [mysql] the text is lost in Canal: every garbled column is named once in a warning that says
    what to do, counted per table and column in /metrics; check-config --peek names them too; the utf8mb4
    column stays exact."""
    t = "cs_nomysql"
    sql(ddl(t))
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    sql(insert(t, {i: row(i) for i in range(1, 4)}))
    p = subprocess.run([itlib.BIN, "check-config", "-c", es.ini, "--peek"], capture_output=True, text=True,
                       env=es.env, timeout=90)
    for c in ["g", "b", "s", "k", "l", "t"]:
        check(f"table {DB}.{t} column {c}: a waiting change holds U+FFFD" in p.stdout,
              f"check-config --peek names column {c}:\n{p.stdout}")
    check(f"{t} column u:" not in p.stdout, "the utf8mb4 column is fine")
    port = free_port()
    with_http(es, port)
    es.start()
    try:
        poll(lambda: len(index_docs(t)) == 3, 45, "the 3 rows indexed")
        docs = index_docs(t)
        check(docs["1"]["u"] == row(1)["u"] and docs["1"]["g"] != row(1)["g"], f"row 1: {docs['1']}")
        log = es.log_text()
        for c in ["g", "b", "s", "k", "l", "t"]:
            check(f"table {DB}.{t} column {c}: value holds U+FFFD" in log and "Configure [mysql]" in log,
                  f"the warning names column {c}: {es.tail(20)}")
            check(log.count(f"table {DB}.{t} column {c}: value holds") == 1, f"column {c} is named once")
        m = samples(poll(lambda: get(f"http://127.0.0.1:{port}/metrics")[1], 10, "/metrics"))
        for c in ["g", "b", "s", "k", "l", "t"]:
            key = f'canal_es_text_replaced_values_total{{table="{DB}.{t}",column="{c}"}}'
            check(m.get(key, 0) >= 1, f"{key} = {m.get(key)}")  # a garbled value may also be valid UTF-8
        check(f'canal_es_text_replaced_values_total{{table="{DB}.{t}",column="u"}}' not in m, "u not counted")
    finally:
        es.stop()


def test_charsets_garbled_key_dead_letters():
    """A primary key in gbk: rows whose key is ASCII are read back and exact; a row whose key is not cannot be
    found in MySQL: it is dead-lettered with a reason naming the key column, its charset and the fix, the
    stream goes on, and check-config warns about the key."""
    t = "cs_gbkkey"
    delete_index(t)
    sql(f"CREATE TABLE `{DB}`.`{t}` (code VARCHAR(20) CHARACTER SET gbk NOT NULL PRIMARY KEY, "
        f"g VARCHAR(40) CHARACTER SET gbk NULL, n INT NULL) DEFAULT CHARSET=utf8mb4;")
    es = mysql_ini(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "snapshot": "never"}}))
    dl = es.ini.replace("canal-es.ini", "dead-letters.jsonl")
    text = open(es.ini).read().replace("[elasticsearch]\n", f"[elasticsearch]\non_error = dead_letter\n"
                                                             f"dead_letter = {dl}\n")
    open(es.ini, "w").write(text)
    p = subprocess.run([itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True, env=es.env,
                       timeout=60)
    check(f"table {DB}.{t} (line" in p.stdout and "key column(s) code (gbk): Canal garbles this charset" in p.stdout,
          f"check-config warns about the key:\n{p.stdout}")
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES ('A-1', '测试中文', 1), ('编号', '键不是 ASCII', 2), ('B-2', '二', 3);")
        poll(lambda: sorted(index_docs(t)) == ["A-1", "B-2"], 45, "the rows with ASCII keys")
        docs = index_docs(t)
        check(docs["A-1"] == {"code": "A-1", "g": "测试中文", "n": 1} and docs["B-2"]["g"] == "二", f"docs: {docs}")
        lines = poll(lambda: [json.loads(x) for x in open(dl, encoding="utf-8").read().splitlines()], 10,
                     "the dead letter")
        check(len(lines) == 1 and "key column code (gbk) holds text Canal garbled" in json.dumps(lines[0]),
              f"one dead letter naming the key: {lines}")
        check("key column code (gbk)" in es.log_text(), f"the log names it: {es.tail(10)}")
    finally:
        es.stop()


TESTS = [test_charsets_stream_exact, test_charsets_snapshot_equals_stream, test_charsets_without_mysql_warns,
         test_charsets_garbled_key_dead_letters]
