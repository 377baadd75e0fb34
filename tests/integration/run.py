#!/usr/bin/env python3
"""canal-es integration tests against the real stack (see harness.py).

Usage: run.py --bin build/canal-es [--summary FILE] [-k NAME]
Each test writes rows to MariaDB, lets the real Canal server and canal-es
carry them, and compares every document in the index with every row.
"""
import argparse
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback

import itlib
from harness import (PARSE_ERRORS, CanalEs, TestFailure, TestSkipped, check, delete_index, http, index_docs,
                     node_has_delete_by_query, node_has_type, poll, rows_as_docs, sql, wait_in_sync)
from itlib import DB, PRODUCT_DDL, new_table, product_docs, product_rows, stats_batches

BIN = None
# ------------------------------------------------------------------ tests
def test_insert_update_delete():
    """Single- and multi-row INSERT, UPDATE and DELETE, checked after each phase."""
    t = "products"
    new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}}).start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 1)};")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(2, 9)};")
        wait_in_sync(t, product_docs(t))
        check(len(index_docs(t)) == 10, "expected 10 documents after the inserts")
        sql(f"UPDATE `{DB}`.`{t}` SET name = 'renamed 3', qty = NULL WHERE id = 3;")
        sql(f"UPDATE `{DB}`.`{t}` SET price = price + 1, note = '多行 update' WHERE id BETWEEN 5 AND 9;")
        wait_in_sync(t, product_docs(t))
        check(index_docs(t)["3"]["qty"] is None, "NULL must be indexed as null")
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE id = 1;")
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE id IN (4, 6, 8);")
        wait_in_sync(t, product_docs(t))
        check(sorted(index_docs(t), key=int) == ["2", "3", "5", "7", "9", "10"], "wrong ids after deletes")
        check(es.alive(), "canal-es exited: " + es.tail())
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0 on SIGTERM: " + es.tail())


def test_composite_keys():
    """A composite primary key gives "a_b"; configured id columns give their order."""
    t1, t2 = "pairs", "pairs_cfg"
    ddl = "CREATE TABLE `{db}`.`{t}` (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b))"
    new_table(t1, ddl)
    new_table(t2, ddl)
    es = CanalEs(BIN, {f"{DB}.{t1}": {"index": t1}, f"{DB}.{t2}": {"index": t2, "id": "b, a"}}).start()
    try:
        for t in (t1, t2):
            sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1,'x',10),(1,'y',11),(2,'x',12),(3,'中',13);")
            sql(f"UPDATE `{DB}`.`{t}` SET v = v * 2 WHERE a = 1;")
            sql(f"DELETE FROM `{DB}`.`{t}` WHERE a = 2;")
        wait_in_sync(t1, lambda: rows_as_docs(DB, t1, ["a", "v"], ["b"], ["a", "b"]))
        wait_in_sync(t2, lambda: rows_as_docs(DB, t2, ["a", "v"], ["b"], ["b", "a"]))
        check(set(index_docs(t1)) == {"1_x", "1_y", "3_中"}, "composite ids a_b")
        check(set(index_docs(t2)) == {"x_1", "y_1", "中_3"}, "configured id columns b, a")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def test_id_changing_update():
    """An UPDATE of the key deletes the old document and indexes the new one."""
    t = "rekey"
    new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}}).start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 5)};")
        wait_in_sync(t, product_docs(t))
        sql(f"UPDATE `{DB}`.`{t}` SET id = id + 1000, name = CONCAT(name, ' moved') WHERE id <= 3;")
        wait_in_sync(t, product_docs(t))
        check(set(index_docs(t)) == {"4", "5", "1001", "1002", "1003"}, "old ids must be gone")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def test_large_transaction_spans_batches():
    """One 5000-row transaction, fetched in many small batches."""
    t = "bigtxn"
    new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}}, batch_size=16).start()
    try:
        stmts = ["BEGIN;"] + [f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(i, 1)};" for i in range(1, 5001)]
        stmts.append("COMMIT;")
        sql("\n".join(stmts))
        wait_in_sync(t, product_docs(t), timeout=180)
        check(len(index_docs(t)) == 5000, "expected 5000 documents")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())
    batches = stats_batches(es)
    check(batches >= 5, f"the transaction should have spanned many batches, saw {batches}")


def test_restart_mid_stream_loses_nothing():
    """SIGTERM and SIGKILL of canal-es while rows flow: after restarts the index equals MariaDB."""
    t = "restart"
    new_table(t)
    tables = {f"{DB}.{t}": {"index": t}}
    errors = []

    def writer():
        try:
            for chunk in range(20):
                first = chunk * 500 + 1
                sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(first, 500)};")
                sql(f"UPDATE `{DB}`.`{t}` SET qty = qty + 1, name = CONCAT(name, '+') "
                    f"WHERE id BETWEEN {first} AND {first + 99};")
                sql(f"DELETE FROM `{DB}`.`{t}` WHERE id BETWEEN {first + 400} AND {first + 449};")
        except Exception as e:  # reported by the main thread
            errors.append(e)

    es = CanalEs(BIN, tables, batch_size=32).start()
    w = threading.Thread(target=writer)
    w.start()
    try:
        poll(lambda: len(index_docs(t)) >= 1000, 120, "1000 documents before the first stop")
        rc = es.stop(signal.SIGTERM)
        check(rc == 0, f"SIGTERM exit code {rc}: {es.tail()}")
        es.start()
        poll(lambda: len(index_docs(t)) >= 4000, 120, "4000 documents before the kill")
        es.stop(signal.SIGKILL)
        es.start()
        w.join(300)
        check(not errors, f"writer failed: {errors}")
        wait_in_sync(t, product_docs(t), timeout=180)
        check(len(index_docs(t)) == 20 * 450, "expected 9000 documents")
    finally:
        w.join(300)
        es.stop()


def test_wrong_canal_password_fails():
    """A wrong Canal password exits non-zero saying authentication failed."""
    es = CanalEs(BIN, {f"{DB}.nothing": {"index": "nothing"}}, password="not-the-password").start()
    rc = es.wait_exit(60)
    log = es.log_text()
    check(rc == 1, f"expected exit 1, got {rc}: {log[-500:]}")
    check("authentication failed" in log, f"message must say authentication failed: {log[-500:]}")


def test_cli_and_config_errors():
    """--help/--version exit 0; config errors name FILE:LINE and exit 2."""
    p = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    check(p.returncode == 0 and re.match(r"canal-es \d+\.\d+\.\d+", p.stdout), f"--version: {p}")
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "run -c FILE" in p.stdout, f"--help: {p}")
    p = subprocess.run([BIN, "frobnicate"], capture_output=True, text=True)
    check(p.returncode == 2, f"unknown command must exit 2: {p}")
    es = CanalEs(BIN, {f"{DB}.x": {"index": "x"}}, extra_canal="bogus_key = 1")
    p = subprocess.run([BIN, "run", "-c", es.ini], capture_output=True, text=True, env=es.env)
    check(p.returncode == 2, f"unknown key must exit 2: {p}")
    check(re.search(re.escape(es.ini) + r":9: \[canal\]: unknown key 'bogus_key'", p.stderr),
          f"message must name file:line: {p.stderr}")
    env = dict(es.env)
    env.pop("IT_CANAL_PASSWORD")
    p = subprocess.run([BIN, "run", "-c", es.ini], capture_output=True, text=True, env=env)
    check(p.returncode == 2 and "IT_CANAL_PASSWORD" in p.stderr, f"unset variable must be named: {p.stderr}")


def test_truncate_and_drop():
    """TRUNCATE and DROP TABLE of a mapped table delete its documents; on_truncate = ignore keeps them.
    On a node without _delete_by_query (no reindex module) a TRUNCATE stops canal-es with the reason."""
    if not node_has_delete_by_query():
        return truncate_without_delete_by_query()
    t1, t2, t3 = "trunc", "dropme", "keepme"
    for t in (t1, t2, t3):
        new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t1}": {"index": t1}, f"{DB}.{t2}": {"index": t2},
                       f"{DB}.{t3}": {"index": t3, "on_truncate": "ignore"}}).start()
    try:
        for t in (t1, t2, t3):
            sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 20)};")
        for t in (t1, t2, t3):
            wait_in_sync(t, product_docs(t))
        sql(f"TRUNCATE TABLE `{DB}`.`{t1}`; INSERT INTO `{DB}`.`{t1}` VALUES {product_rows(100, 3)};")
        sql(f"TRUNCATE TABLE `{DB}`.`{t3}`;")
        sql(f"DROP TABLE `{DB}`.`{t2}`;")
        wait_in_sync(t1, product_docs(t1))
        check(set(index_docs(t1)) == {"100", "101", "102"}, "rows after TRUNCATE must be the only documents")
        poll(lambda: len(index_docs(t2)) == 0, 60, "DROP TABLE to empty the index")
        # the marker row proves canal-es went past the TRUNCATE of t3
        sql(f"INSERT INTO `{DB}`.`{t1}` VALUES {product_rows(200, 1)};")
        poll(lambda: "200" in index_docs(t1), 60, "the marker row")
        check(len(index_docs(t3)) == 20, "on_truncate = ignore must keep the documents")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def truncate_without_delete_by_query():
    """on_truncate = ignore works as anywhere; the TRUNCATE of an on_truncate = delete table (DROP TABLE
    alike: both delete the documents with _delete_by_query) stops canal-es (exit 1) with a message naming
    _delete_by_query and on_truncate = ignore, instead of retrying for ever; nothing after it is applied, and
    a run with on_truncate = ignore goes on from there."""
    print("    note: the node has no _delete_by_query: a TRUNCATE must stop canal-es with the reason", flush=True)
    t1, t3 = "trunc_nodbq", "keepme_nodbq"
    for t in (t1, t3):
        new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t1}": {"index": t1}, f"{DB}.{t3}": {"index": t3, "on_truncate": "ignore"}}).start()
    try:
        for t in (t1, t3):
            sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 20)};")
        for t in (t1, t3):
            wait_in_sync(t, product_docs(t))
        sql(f"TRUNCATE TABLE `{DB}`.`{t3}`;")
        sql(f"INSERT INTO `{DB}`.`{t1}` VALUES {product_rows(200, 1)};")
        poll(lambda: "200" in index_docs(t1), 60, "the marker row after the ignored TRUNCATE")
        check(len(index_docs(t3)) == 20, "on_truncate = ignore must keep the documents")
        sql(f"TRUNCATE TABLE `{DB}`.`{t1}`; INSERT INTO `{DB}`.`{t1}` VALUES {product_rows(300, 1)};")
        rc = es.wait_exit(60)
        log = es.log_text()
        check(rc == 1, f"expected exit 1 at the TRUNCATE, got {rc}: {log[-600:]}")
        check("no _delete_by_query" in log and "on_truncate = ignore" in log, f"the reason is logged: {log[-600:]}")
        check("300" not in index_docs(t1) and len(index_docs(t1)) == 21, "nothing after the TRUNCATE was applied")
    except BaseException:
        es.stop()
        raise
    # the remedy the message names: with on_truncate = ignore the next run gets past the TRUNCATE (not acked)
    es = CanalEs(BIN, {f"{DB}.{t1}": {"index": t1, "on_truncate": "ignore"}}).start()
    try:
        poll(lambda: "300" in index_docs(t1), 60, "the row after the TRUNCATE, with on_truncate = ignore")
        check(len(index_docs(t1)) == 22, "the ignored TRUNCATE keeps the documents")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


ALLTYPES_DDL = """CREATE TABLE `{db}`.`{t}` (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  dec65 DECIMAL(65,30), d2 DECIMAL(10,2),
  f FLOAT, dbl DOUBLE,
  b1 BIT(1), b64 BIT(64),
  y YEAR, dt DATE, dtm DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(2),
  c CHAR(10), vc VARCHAR(100), tx TEXT,
  e ENUM('small','medium','it''s, big'), st SET('red','green','blue'),
  j JSON,
  bin BINARY(4), vb VARBINARY(16), bl BLOB, bt BLOB
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

ALLTYPES_ROWS = r"""SET SESSION sql_mode = '', time_zone = '+00:00';
INSERT INTO `{db}`.`{t}` VALUES
(1, 127, 255, 32767, 65535, 8388607, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
 '12345678901234567890123456789012345.123456789012345678901234567890', 100.00,
 1.5, 3.141592653589793, b'1', b'1111111111111111111111111111111111111111111111111111111111111111',
 2155, '2024-02-29', '2024-02-29 23:59:59.123456', '2024-01-01 00:00:00.500', '-838:59:59.00',
 'abc', 'emoji 😀 𝄞', '中文文本 "q" \\ end', 'it''s, big', 'red,blue',
 '{"a": [1, 2, {"b": "\\u00e9\\ud83d\\ude00"}], "n": null, "t": true}',
 0x00FF7F80, 0x00010203FEFF, '同步blob的字符串中文乱码', 0x80FF00),
(2, -128, 0, -32768, 0, -8388608, -2147483648, 0, -9223372036854775808, 0,
 '-0.000000000000000000000000000001', -0.50,
 -2.25, -1e-300, b'0', b'0',
 1901, '0000-00-00', '0000-00-00 00:00:00', NULL, '00:00:00.01',
 '', '', '', '', '',
 '[]',
 0x00000000, '', '', ''),
(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, '2024-00-10', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

ALLTYPES_EXPECTED = {
    "1": {"id": 1, "ti": 127, "tiu": 255, "si": 32767, "siu": 65535, "mi": 8388607, "i": 2147483647,
          "iu": 4294967295, "bi": 9223372036854775807, "biu": 18446744073709551615,
          "dec65": "12345678901234567890123456789012345.123456789012345678901234567890", "d2": "100.00",
          "f": 1.5, "dbl": 3.141592653589793, "b1": 1, "b64": 18446744073709551615,
          "y": 2155, "dt": "2024-02-29", "dtm": "2024-02-29T23:59:59.123456", "ts": "2024-01-01T00:00:00.500",
          "tm": "-838:59:59.00",
          "c": "abc", "vc": "emoji 😀 𝄞", "tx": '中文文本 "q" \\ end', "e": "it's, big", "st": ["red", "blue"],
          "j": {"a": [1, 2, {"b": "é😀"}], "n": None, "t": True},
          "bin": "AP9/gA==", "vb": "AAECA/7/", "bl": "同步blob的字符串中文乱码", "bt": "gP8A"},
    "2": {"id": 2, "ti": -128, "tiu": 0, "si": -32768, "siu": 0, "mi": -8388608, "i": -2147483648, "iu": 0,
          "bi": -9223372036854775808, "biu": 0,
          "dec65": "-0.000000000000000000000000000001", "d2": "-0.50",
          "f": -2.25, "dbl": -1e-300, "b1": 0, "b64": 0,
          "y": 1901, "dt": None, "dtm": None, "ts": None, "tm": "00:00:00.01",
          "c": "", "vc": "", "tx": "", "e": "", "st": [], "j": [],
          "bin": "AAAAAA==", "vb": "", "bl": "", "bt": ""},
    "3": {"id": 3, **{k: None for k in ["ti", "tiu", "si", "siu", "mi", "i", "iu", "bi", "biu", "dec65", "d2",
                                         "f", "dbl", "b1", "b64", "y", "dtm", "ts", "tm", "c", "vc", "tx",
                                         "e", "st", "j", "bin", "vb", "bl", "bt"]}, "dt": None},
}

ALLTYPES_MAPPING = {"mappings": {"dynamic": "strict", "properties": {
    "id": {"type": "long"}, "ti": {"type": "long"}, "tiu": {"type": "long"}, "si": {"type": "long"},
    "siu": {"type": "long"}, "mi": {"type": "long"}, "i": {"type": "long"}, "iu": {"type": "long"},
    "bi": {"type": "long"}, "biu": {"type": "unsigned_long"},
    "dec65": {"type": "keyword"}, "d2": {"type": "keyword"},
    "f": {"type": "double"}, "dbl": {"type": "double"}, "b1": {"type": "long"}, "b64": {"type": "unsigned_long"},
    "y": {"type": "long"}, "dt": {"type": "date"}, "dtm": {"type": "date"}, "ts": {"type": "date"},
    "tm": {"type": "keyword"}, "c": {"type": "keyword"}, "vc": {"type": "keyword"}, "tx": {"type": "text"},
    "e": {"type": "keyword"}, "st": {"type": "keyword"}, "j": {"type": "object", "enabled": False},
    "bin": {"type": "binary"}, "vb": {"type": "binary"}, "bl": {"type": "text"}, "bt": {"type": "binary"}}}}


def alltypes_mapping():
    """ALLTYPES_MAPPING as the node can hold it: unsigned_long is an x-pack mapper, which the embedded
    Elasticsearch 7.17 and 8 nodes (no x-pack jars on Maven Central) lack, so those two fields are keywords
    there; _source is exact anyway."""
    mapping = json.loads(json.dumps(ALLTYPES_MAPPING))
    if not node_has_type("unsigned_long"):
        for f in ("biu", "b64"):
            mapping["mappings"]["properties"][f] = {"type": "keyword"}
    return mapping


def test_every_type():
    """A column of every MySQL type, edge values included: the documents equal hand-written JSON and an
    index with an explicit strict mapping (date, long, unsigned_long, binary, keyword, object) accepts them.
    MariaDB stores JSON columns as LONGTEXT (Canal reports mysqlType longtext), hence `j:json`."""
    t = "alltypes"
    new_table(t, ALLTYPES_DDL)
    http("PUT", f"/{t}", alltypes_mapping())
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t, "convert": "bin:base64, vb:base64, bt:base64, j:json"}}).start()
    try:
        sql(ALLTYPES_ROWS.replace("{db}", DB).replace("{t}", t))
        got = {}

        def arrived():
            got.update(index_docs(t))
            return len(got) == 3
        try:
            poll(arrived, 60, "3 documents")
        except TestFailure as e:
            raise TestFailure(f"{e}; canal-es log: {es.tail(10)}")
        for k, exp in ALLTYPES_EXPECTED.items():
            diffs = [f"{c}: expected {exp[c]!r} got {got[k].get(c, '<missing>')!r}"
                     for c in exp if got[k].get(c, "<missing>") != exp[c]]
            extra = set(got[k]) - set(exp)
            check(not diffs and not extra, f"row {k}: " + "; ".join(diffs) + (f"; extra {extra}" if extra else ""))
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


REJECT_DDL = "CREATE TABLE `{db}`.`{t}` (id INT NOT NULL PRIMARY KEY, qty VARCHAR(20) NOT NULL)"
REJECT_MAPPING = {"mappings": {"properties": {"id": {"type": "long"}, "qty": {"type": "integer"}}}}


def test_rejected_document_goes_to_dead_letter():
    """A document the mapping rejects lands in the dead-letter file; later rows keep flowing."""
    t = "rejects"
    new_table(t, REJECT_DDL)
    http("PUT", f"/{t}", REJECT_MAPPING)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}})
    dl = es.ini.replace("canal-es.ini", "dead-letters.jsonl")
    text = open(es.ini).read().replace("[elasticsearch]\n", f"[elasticsearch]\non_error = dead_letter\ndead_letter = {dl}\n")
    open(es.ini, "w").write(text)
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1, '10'), (2, 'not a number'), (3, '30');")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (4, '40');")
        poll(lambda: set(index_docs(t)) == {"1", "3", "4"}, 60, "rows 1, 3, 4 indexed")
        lines = [json.loads(x) for x in open(dl, encoding="utf-8").read().splitlines()]
        check(len(lines) == 1, f"expected one dead letter, got {lines}")
        d = lines[0]
        check(d["action"]["index"]["_id"] == "2" and d["document"] == {"id": 2, "qty": "not a number"},
              f"dead letter holds the action and document: {d}")
        check(d["status"] == 400 and d["error"]["type"] in PARSE_ERRORS, f"error recorded: {d}")
        check(d["table"] == f"{DB}.{t}" and d["binlog"]["file"].startswith("mysql-bin.")
              and d["binlog"]["offset"] > 0, f"table and binlog position recorded: {d}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())
    check("dead_letters=1" in es.log_text(), "the stats line counts the dead letter: " + es.tail())


def test_versions_follow_binlog():
    """Writes carry external versions from the binlog coordinates: they grow with every change."""
    t = "versions"
    new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}}).start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 2)};")
        wait_in_sync(t, product_docs(t))
        v1 = http("GET", f"/{t}/_doc/1")[1]["_version"]
        v2 = http("GET", f"/{t}/_doc/2")[1]["_version"]
        sql(f"UPDATE `{DB}`.`{t}` SET qty = 99 WHERE id = 1;")
        wait_in_sync(t, product_docs(t))
        v3 = http("GET", f"/{t}/_doc/1")[1]["_version"]
        binlog = sql("SHOW MASTER STATUS;")[0].split("\t")[0]
        seq = int(binlog.rsplit(".", 1)[1])
        check(v1 < v2 < v3, f"versions must grow along the binlog: {v1}, {v2}, {v3}")
        check(v3 >> 33 == seq and v3 & ((1 << 33) - 1) > 0, f"version {v3} must encode binlog file {seq}")
        # an older change replayed against the index is refused, not applied
        st, _ = http("PUT", f"/{t}/_doc/1?version={v1}&version_type=external", {"id": 1, "qty": 1}, ok=None)
        check(st == 409, f"a stale write must conflict, got {st}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def test_checkpoint_and_status():
    """After acks the checkpoint names the binlog position; `status` prints it with the lag; a checkpoint
    of another client is refused at startup."""
    t = "ckpt"
    new_table(t)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}})
    ck = es.ini.replace("canal-es.ini", "checkpoint.json")
    with open(es.ini, "a") as f:
        f.write(f"\n[checkpoint]\nfile = {ck}\n")
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 5)};")
        wait_in_sync(t, product_docs(t))
        binlog = sql("SHOW MASTER STATUS;")[0].split("\t")[0]
        poll(lambda: os.path.exists(ck) and json.load(open(ck))["binlog_file"] == binlog, 30, "the checkpoint")
        p = subprocess.run([BIN, "status", "-c", es.ini], capture_output=True, text=True, env=es.env)
        check(p.returncode == 0, f"status: {p}")
        check("destination: example\n" in p.stdout and f"binlog: {binlog}:" in p.stdout, f"status: {p.stdout}")
        lag = float(re.search(r"lag_seconds: ([0-9.]+)", p.stdout).group(1))
        check(0 <= lag < 300, f"lag {lag}")
        saved = json.load(open(ck))
        check(saved["destination"] == "example" and saved["client_id"] == 1001 and saved["batch_id"] > 0,
              f"checkpoint content: {saved}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())
    other = CanalEs(BIN, {f"{DB}.{t}": {"index": t}})
    text = open(other.ini).read().replace("client_id = 1001", "client_id = 1002")
    open(other.ini, "w").write(text + f"\n[checkpoint]\nfile = {ck}\n")
    other.start()
    rc = other.wait_exit(30)
    check(rc == 1 and "belongs to destination example client 1001" in other.log_text(),
          f"a foreign checkpoint must be refused: {rc} {other.tail()}")


def test_halt_on_rejected_document():
    """on_error = halt: a rejected document stops canal-es (exit 1, naming it) and nothing after it is acked."""
    t = "halts"
    new_table(t, REJECT_DDL)
    http("PUT", f"/{t}", REJECT_MAPPING)
    es = CanalEs(BIN, {f"{DB}.{t}": {"index": t}})
    text = open(es.ini).read().replace("[elasticsearch]\n", "[elasticsearch]\non_error = halt\n")
    open(es.ini, "w").write(text)
    es.start()
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1, '10'); INSERT INTO `{DB}`.`{t}` VALUES (2, 'bad');")
    rc = es.wait_exit(60)
    log = es.log_text()
    check(rc == 1, f"expected exit 1, got {rc}: {log[-600:]}")
    check(any(e in log for e in PARSE_ERRORS) and '"_id":"2"' in log, f"message names the document: {log[-600:]}")
    # the batch was not acked: a new run gets it again and halts again
    es2 = CanalEs(BIN, {f"{DB}.{t}": {"index": t}})
    open(es2.ini, "w").write(text)
    es2.start()
    check(es2.wait_exit(60) == 1 and '"_id":"2"' in es2.log_text(), "the rejected batch must be redelivered")


TESTS = [
    test_cli_and_config_errors,
    test_wrong_canal_password_fails,
    test_insert_update_delete,
    test_composite_keys,
    test_id_changing_update,
    test_large_transaction_spans_batches,
    test_restart_mid_stream_loses_nothing,
    test_truncate_and_drop,
    test_every_type,
    test_rejected_document_goes_to_dead_letter,
    test_versions_follow_binlog,
    test_checkpoint_and_status,
]
LAST = [test_halt_on_rejected_document]  # last: it leaves an un-acked batch behind


def module_tests():
    """TESTS of every t_*.py module beside this file, in name order."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = []
    for name in sorted(os.listdir(here)):
        if name.startswith("t_") and name.endswith(".py"):
            mod = importlib.import_module(name[:-3])
            found += list(getattr(mod, "TESTS", []))
    return found


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--summary")
    ap.add_argument("-k", default="")
    a = ap.parse_args()
    BIN = a.bin
    itlib.BIN = a.bin
    sql(f"CREATE DATABASE `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    status, info = http("GET", "/")
    print(f"search node: {info.get('version', {}).get('distribution', 'elasticsearch')} "
          f"{info.get('version', {}).get('number')}; database {DB}", flush=True)
    passed = failed = skipped = 0
    for test in TESTS + module_tests() + LAST:
        if a.k not in test.__name__:
            continue
        t0 = time.monotonic()
        try:
            test()
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
        except TestSkipped as e:
            skipped += 1
            print(f"SKIP {test.__name__}: {e}", flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f}s): {e}", flush=True)
            if not isinstance(e, TestFailure):
                traceback.print_exc()
    for es in CanalEs.started:
        if es.alive():
            print(f"note: a canal-es left running by a test was killed (log {es.log})", flush=True)
            es.proc.kill()
            es.proc.wait(30)
    print(f"integration: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""), flush=True)
    if a.summary:
        with open(a.summary, "w") as f:
            f.write(f"{passed} {failed} {skipped}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
