"""Rows that used to stop canal-es for good: a legitimate VARCHAR key longer than the 512-byte _id limit is
indexed under the documented hashed id (id_prefix + "~sha256:" + SHA-256 hex of the key) and deleted again by
its DELETE; an empty-string key is hashed the same way; a row its rule cannot map (its configured id column is
NULL) goes to the dead-letter file as a "kind":"row" line, which replay reports as not replayable; the other
rows of the same transaction are indexed and canal-es keeps running."""
import hashlib
import json
import os
import subprocess

import itlib
from harness import CanalEs, check, index_docs, poll, sql
from itlib import DB, delete_index

LONG = "k" * 300 + "長" * 100  # 600 bytes of UTF-8
DDL_KEYS = """CREATE TABLE `{db}`.`{t}` (
  k VARCHAR(700) NOT NULL PRIMARY KEY,
  v INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
DDL_CODES = """CREATE TABLE `{db}`.`{t}` (
  id INT NOT NULL PRIMARY KEY,
  code VARCHAR(20) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def hashed(key, prefix=""):
    return prefix + "~sha256:" + hashlib.sha256(key.encode()).hexdigest()


def with_dead_letter(es):
    dl = os.path.join(es.dir, "dead-letters.jsonl")
    text = open(es.ini).read().replace("[elasticsearch]\n",
                                       f"[elasticsearch]\non_error = dead_letter\ndead_letter = {dl}\n")
    with open(es.ini, "w") as f:
        f.write(text)
    return dl


def dl_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(x) for x in f.read().splitlines() if x]


def test_hostile_rows_long_and_empty_keys_indexed():
    t, c = "hr_keys", "hr_codes"
    for name, ddl in ((t, DDL_KEYS), (c, DDL_CODES)):
        sql(ddl.format(db=DB, t=name) + ";")
        delete_index(name)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}, f"{DB}.{c}": {"index": c, "id": "code"}})
    dl = with_dead_letter(es)
    es.start()
    try:
        # one transaction: one batch holding every kind of row
        sql(f"BEGIN; INSERT INTO `{DB}`.`{t}` VALUES ('{LONG}', 1), ('', 2), ('short', 3); "
            f"INSERT INTO `{DB}`.`{c}` VALUES (1, 'c1'), (2, NULL), (3, 'c3'); COMMIT;")
        want = {hashed(LONG): {"k": LONG, "v": 1}, hashed(""): {"k": "", "v": 2}, "short": {"k": "short", "v": 3}}
        poll(lambda: index_docs(t) == want, 60, f"the three rows of {t} under their ids")
        poll(lambda: sorted(index_docs(c)) == ["c1", "c3"], 30, f"the mappable rows of {c}")
        poll(lambda: len(dl_lines(dl)) == 1, 30, "the unmappable row in the dead-letter file")
        rec = dl_lines(dl)[0]
        check(rec["kind"] == "row" and rec["status"] == 0 and rec["error"]["type"] == "row_not_mapped"
              and "id column 'code' is NULL" in rec["error"]["reason"] and rec["table"] == f"{DB}.{c}"
              and rec["row"]["op"] == "insert" and rec["row"]["after"] == {"id": "2", "code": None}
              and rec["binlog"]["offset"] > 0 and rec["binlog"]["file"],
              f"the dead-letter line: {rec}")
        check(es.alive(), "canal-es keeps running: " + es.tail())
        # the same ids for updates and deletes of those rows
        sql(f"UPDATE `{DB}`.`{t}` SET v = 10 WHERE k = '{LONG}'; DELETE FROM `{DB}`.`{t}` WHERE k = '';")
        poll(lambda: index_docs(t) == {hashed(LONG): {"k": LONG, "v": 10}, "short": {"k": "short", "v": 3}}, 60,
             "the update of the long key and the delete of the empty key")
        sql(f"DELETE FROM `{DB}`.`{t}` WHERE k = '{LONG}';")
        poll(lambda: index_docs(t) == {"short": {"k": "short", "v": 3}}, 60, "the delete of the long key")
        check(es.alive(), "canal-es keeps running: " + es.tail())
        check("dead_letters=1" in es.log_text() or "row not indexed, written to" in es.log_text(),
              "the dead letter is logged: " + es.tail())
    finally:
        rc = es.stop()
    check(rc == 0, f"canal-es exit {rc}: {es.tail()}")
    # replay knows the line for what it is and keeps it
    p = subprocess.run([itlib.BIN, "replay-dead-letters", "-c", es.ini, dl], capture_output=True, text=True,
                       env=es.env, timeout=120)
    check(p.returncode == 1 and "not replayable" in p.stderr and "bad lines 1" in p.stdout,
          f"replay: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    check(len(dl_lines(dl + ".remaining")) == 1, "the line stays in .remaining")


def test_hostile_rows_halt_acks_nothing():
    """on_error = halt: the unmappable row stops canal-es with a clear message and nothing is acked: a run
    with a dead-letter file afterwards gets the same batch again."""
    c = "hr_halt"
    sql(DDL_CODES.format(db=DB, t=c) + ";")
    delete_index(c)
    es = CanalEs(itlib.BIN, {f"{DB}.{c}": {"index": c, "id": "code"}})
    text = open(es.ini).read().replace("[elasticsearch]\n", "[elasticsearch]\non_error = halt\n")
    with open(es.ini, "w") as f:
        f.write(text)
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{c}` VALUES (1, 'c1'), (2, NULL), (3, 'c3');")
        rc = es.wait_exit(60)
    finally:
        es.stop()
    check(rc == 1, f"exit {rc}")
    log = es.log_text()
    check("id column 'code' is NULL in the after image; halting, nothing acked (on_error = halt)" in log,
          "the halt message: " + es.tail())
    es2 = CanalEs(itlib.BIN, {f"{DB}.{c}": {"index": c, "id": "code"}})
    dl = with_dead_letter(es2)
    es2.start()
    try:
        poll(lambda: sorted(index_docs(c)) == ["c1", "c3"], 60, "the batch delivered again, mappable rows indexed")
        poll(lambda: len(dl_lines(dl)) == 1 and dl_lines(dl)[0]["row"]["after"]["id"] == "2", 30,
             "the unmappable row in the dead-letter file")
        check(es2.alive(), "canal-es keeps running: " + es2.tail())
    finally:
        es2.stop()


TESTS = [test_hostile_rows_long_and_empty_keys_indexed, test_hostile_rows_halt_acks_nothing]
