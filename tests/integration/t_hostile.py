"""Hostile table names on the real stack. MySQL allows almost any byte in a quoted identifier: a table named
`%2a` must not turn the TRUNCATE of its index into a _delete_by_query on the wildcard `*` (the node
percent-decodes URL paths), and a table whose index template gives an invalid index name (a space) is refused
for that table, with one clear message, while the other tables keep streaming."""
import json
import urllib.parse

import itlib
from harness import CanalEs, check, delete_index, http, index_docs, need_delete_by_query, poll, sql
from itlib import DB

DB2 = f"{DB}_h"  # a database of its own: the wildcard of the old bug covers every index of it
DDL = "CREATE TABLE IF NOT EXISTS `{db}`.`{t}` (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NULL) ENGINE=InnoDB"
PCT, VICTIM, SPACED = "%2a", "victim", "My Table"
UNRELATED = f"{DB2}-unrelated"  # not written by canal-es, but matches "{DB2}-*"


def seg(name):
    """An index name as one URL path segment (what canal-es must do too)."""
    return urllib.parse.quote(name, safe="")


def docs(index):
    return index_docs(seg(index))


def setup_tables():
    sql(f"CREATE DATABASE IF NOT EXISTS `{DB2}` DEFAULT CHARACTER SET utf8mb4;")
    for t in (PCT, VICTIM, SPACED):
        sql(DDL.format(db=DB2, t=t) + ";")


def canal_es(halt=False):
    es = CanalEs(itlib.BIN, {f"/{DB2}\\..*/": {"index": "{db}-{table}"}})
    dl = es.ini.replace("canal-es.ini", "dead-letters.jsonl")
    mode = "on_error = halt\n" if halt else f"on_error = dead_letter\ndead_letter = {dl}\n"
    text = open(es.ini).read().replace("[elasticsearch]\n", "[elasticsearch]\n" + mode)
    open(es.ini, "w").write(text)
    return es, dl


def test_hostile_percent_table_truncate_keeps_other_indexes():
    """TRUNCATE of table `%2a` empties index `DB-%2a` only: the other tables' indexes and an unrelated index
    that the wildcard `DB-*` would match keep every document (the old code sent POST /DB-%2a/_delete_by_query,
    which the node read as DB-*)."""
    need_delete_by_query()
    setup_tables()
    for t in (PCT, VICTIM):
        delete_index(seg(f"{DB2}-{t}"))
    delete_index(UNRELATED)
    http("PUT", f"/{UNRELATED}/_doc/1?refresh=true", {"keep": True})
    es, _ = canal_es()
    es.start()
    try:
        sql(f"INSERT INTO `{DB2}`.`{PCT}` VALUES (1, 'a'), (2, 'b'), (3, 'c');")
        sql(f"INSERT INTO `{DB2}`.`{VICTIM}` VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e');")
        poll(lambda: len(docs(f"{DB2}-{PCT}")) == 3 and len(docs(f"{DB2}-{VICTIM}")) == 5, 90,
             "both tables indexed")
        sql(f"TRUNCATE TABLE `{DB2}`.`{PCT}`;")
        sql(f"INSERT INTO `{DB2}`.`{VICTIM}` VALUES (6, 'marker');")  # proves canal-es went past the TRUNCATE
        poll(lambda: "6" in docs(f"{DB2}-{VICTIM}"), 90, "the marker row after the TRUNCATE")
        check(es.alive(), "canal-es exited: " + es.tail())
        victim = docs(f"{DB2}-{VICTIM}")
        check(sorted(victim, key=int) == ["1", "2", "3", "4", "5", "6"],
              f"the TRUNCATE of `{PCT}` must not delete documents of index {DB2}-{VICTIM}: {sorted(victim)}")
        check(list(docs(UNRELATED)) == ["1"], f"the unrelated index {UNRELATED} must keep its document")
        check(docs(f"{DB2}-{PCT}") == {}, "the index of table `%2a` itself is emptied")
        check(f"TRUNCATE of {DB2}.{PCT}: deleted 3 documents from index {DB2}-{PCT}" in es.log_text(),
              "the TRUNCATE is logged with its own index: " + es.tail())
    finally:
        es.stop()


def test_hostile_invalid_index_name_refused_stream_continues():
    """Rows of table `My Table` (index template {db}-{table} gives 'DB-my table', not a valid index name) are not
    sent: they go to the dead-letter file with the reason, one WARN per row names table, template, config line
    and binlog position, and the other tables keep streaming; its TRUNCATE is not applied (one WARN)."""
    setup_tables()
    es, dl = canal_es()
    es.start()
    try:
        sql(f"INSERT INTO `{DB2}`.`{SPACED}` VALUES (1, 'x'), (2, 'y');")
        sql(f"INSERT INTO `{DB2}`.`{VICTIM}` VALUES (7, 'after refused');")
        poll(lambda: "7" in docs(f"{DB2}-{VICTIM}"), 90, "a row of another table after the refused ones")
        sql(f"TRUNCATE TABLE `{DB2}`.`{SPACED}`;")
        sql(f"INSERT INTO `{DB2}`.`{VICTIM}` VALUES (8, 'after truncate');")
        poll(lambda: "8" in docs(f"{DB2}-{VICTIM}"), 90, "a row of another table after the refused TRUNCATE")
        check(es.alive(), "canal-es exited: " + es.tail())
        log = es.log_text()
        want = (f"table {DB2}.{SPACED}: index template '{{db}}-{{table}}' (config line ")
        check(want in log and f"gives '{DB2}-my table', which is not a valid index name (contains a space): "
              f"not sent; written to {dl}" in log and "binlog mysql-bin." in log,
              "one clear WARN per refused row: " + es.tail())
        check(f"TRUNCATE of {DB2}.{SPACED} not applied: index template '{{db}}-{{table}}'" in log,
              "the TRUNCATE of that table is not applied, with a WARN: " + es.tail())
        lines = [json.loads(x) for x in open(dl, encoding="utf-8").read().splitlines()]
        check(len(lines) == 2, f"two dead letters, got {lines}")
        check(all(d["status"] == 400 and d["error"]["type"] == "invalid_index_name_exception"
                  and "contains a space" in d["error"]["reason"] and d["table"] == f"{DB2}.{SPACED}"
                  and d["action"]["index"]["_index"] == f"{DB2}-my table" for d in lines),
              f"the dead letters hold the action, the reason and the table: {lines}")
        check(sorted(d["document"]["id"] for d in lines) == [1, 2], f"both rows: {lines}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def test_hostile_invalid_index_name_halts_with_on_error_halt():
    """With on_error = halt a row whose index name is invalid stops canal-es (exit 1) without ack, naming the
    table and the reason; a later run with a dead-letter file takes the same row and acks it."""
    setup_tables()
    es, _ = canal_es(halt=True)
    es.start()
    sql(f"INSERT INTO `{DB2}`.`{SPACED}` VALUES (3, 'halt');")
    rc = es.wait_exit(90)
    log = es.log_text()
    check(rc == 1, f"exit 1 expected, got {rc}: {es.tail()}")
    check(f"table {DB2}.{SPACED}: index template" in log and "(contains a space): not sent; halting without ack "
          "(on_error = halt)" in log, "the halt names the table and why: " + es.tail())
    es2, dl = canal_es()  # the batch was not acked: this run gets it again and dead-letters it
    es2.start()
    try:
        sql(f"INSERT INTO `{DB2}`.`{VICTIM}` VALUES (9, 'after halt');")
        poll(lambda: "9" in docs(f"{DB2}-{VICTIM}"), 90, "the stream after the halted batch")
        lines = [json.loads(x) for x in open(dl, encoding="utf-8").read().splitlines()]
        check([d["document"]["id"] for d in lines] == [3], f"the redelivered row is dead-lettered: {lines}")
    finally:
        es2.stop()


TESTS = [test_hostile_percent_table_truncate_keeps_other_indexes,
         test_hostile_invalid_index_name_refused_stream_continues,
         test_hostile_invalid_index_name_halts_with_on_error_halt]
