"""`canal-es replay-dead-letters` against the real stack.

Rows whose qty the index mapping refuses (integer) are dead-lettered by the
running service; one of them is updated to a valid value afterwards. The
mapping is then fixed the way an operator would: reindex (keeping the external
versions) into an index where qty is a keyword and point an alias with the old
name at it. Only the replay puts the refused rows back; the row changed since
is reported as superseded and keeps its newer document.
"""
import hashlib
import json
import os
import subprocess

import itlib
from harness import (PARSE_ERRORS, CanalEs, check, delete_index, http, index_docs, node_has_delete_by_query, poll,
                     rows_as_docs, sql, wait_in_sync)
from itlib import DB, new_table

REJECT_DDL = "CREATE TABLE `{db}`.`{t}` (id INT NOT NULL PRIMARY KEY, qty VARCHAR(20) NOT NULL)"
QTY_INTEGER = {"mappings": {"properties": {"id": {"type": "long"}, "qty": {"type": "integer"}}}}
QTY_KEYWORD = {"mappings": {"properties": {"id": {"type": "long"}, "qty": {"type": "keyword"}}}}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def replay(es, path, *extra):
    p = subprocess.run([itlib.BIN, "replay-dead-letters", "-c", es.ini, *extra, path], capture_output=True,
                       text=True, env=es.env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def version(index, doc_id):
    return http("GET", f"/{index}/_doc/{doc_id}")[1]["_version"]


def test_replay_dead_letters():
    """Dead letters → fix the mapping → replay: the index equals MariaDB again; a row updated after it was
    dead-lettered is superseded, not regressed; what still fails is kept in FILE.remaining."""
    t = "replays"
    fixed = f"{t}_fixed"
    new_table(t, REJECT_DDL)
    delete_index(fixed)
    http("PUT", f"/{t}", QTY_INTEGER)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    dl = os.path.join(es.dir, "dead-letters.jsonl")
    text = open(es.ini).read().replace("[elasticsearch]\n",
                                       f"[elasticsearch]\non_error = dead_letter\ndead_letter = {dl}\n")
    open(es.ini, "w").write(text)
    expected = lambda: rows_as_docs(DB, t, ["id"], ["qty"], ["id"])  # noqa: E731
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1, '10'), (2, 'two'), (3, '30'), (4, 'four'), (5, 'five');")
        sql(f"UPDATE `{DB}`.`{t}` SET qty = 'still four' WHERE id = 4;")  # refused again: a second line for 4
        sql(f"UPDATE `{DB}`.`{t}` SET qty = '50' WHERE id = 5;")  # valid now: newer than its dead letter
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (6, '60');")
        poll(lambda: set(index_docs(t)) == {"1", "3", "5", "6"} and index_docs(t)["5"]["qty"] == "50", 60,
             "rows 1, 3, 5 (updated), 6 indexed")
        poll(lambda: os.path.exists(dl) and len(read_lines(dl)) == 4, 30, "four dead letters")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())
    try:
        lines = [json.loads(x) for x in read_lines(dl)]
        ids = [d["action"]["index"]["_id"] for d in lines]
        check(ids == ["2", "4", "5", "4"], f"dead letters for 2, 4, 5 (insert), 4 (update) in binlog order: {ids}")
        original = sha256(dl)
        v5 = version(t, "5")

        # --dry-run: the NDJSON on stdout, nothing sent, no file written
        rc, out, err = replay(es, dl, "--dry-run")
        check(rc == 0, f"dry run exit {rc}: {err}")
        nd = [json.loads(x) for x in out.splitlines()]
        check(len(nd) == 8 and nd[0] == lines[0]["action"] and nd[1] == lines[0]["document"],
              f"dry run prints action and document lines: {out[:600]}")
        check(all(a["index"]["version_type"] == "external" and a["index"]["version"] > 0 for a in nd[0::2]),
              f"external versions are kept: {nd[0::2]}")
        check(set(index_docs(t)) == {"1", "3", "5", "6"}, "a dry run sends nothing")
        check(not os.path.exists(dl + ".remaining"), "a dry run writes no .remaining file")

        # replay before the fix, from a copy with a truncated last line: everything is kept
        copy = os.path.join(es.dir, "copy.jsonl")
        with open(copy, "w", encoding="utf-8") as f:
            f.write(open(dl, encoding="utf-8").read() + '{"time":"2024-01-01T00:00')
        rc, out, err = replay(es, copy)
        check(rc == 1, f"lines remain: exit 1, got {rc}: {out} {err}")
        check(out.splitlines()[0] == "replayed 5: applied 0, superseded 0, rejected 4, failed 0, bad lines 1",
              f"summary before the fix: {out}")
        check(any(e in out for e in PARSE_ERRORS), f"the new error is shown: {out}")
        check(f"{copy}:5: not valid JSON" in err, f"the bad line is named FILE:LINE: {err}")
        kept = read_lines(copy + ".remaining")
        check(len(kept) == 5 and kept[4] == '{"time":"2024-01-01T00:00', f"5 lines kept, the bad one as it was: {kept}")
        for old, new in zip(lines, map(json.loads, kept[:4])):
            check(new["action"] == old["action"] and new["document"] == old["document"]
                  and new["table"] == old["table"] and new["binlog"] == old["binlog"]
                  and new["status"] == 400 and new["error"]["type"] in PARSE_ERRORS,
                  f"a rejected line is kept with its new error: {new}")
        check(not [n for n in os.listdir(es.dir) if ".tmp." in n], "no temporary file is left")

        # fix the mapping: reindex with the versions into qty:keyword, alias the old name to it
        http("PUT", f"/{fixed}", QTY_KEYWORD)
        if node_has_delete_by_query():
            http("POST", "/_reindex?refresh=true",
                 {"source": {"index": t}, "dest": {"index": fixed, "version_type": "external"}})
        else:  # no reindex module (the embedded Elasticsearch 8): the same copy by _search and _bulk
            _, r = http("POST", f"/{t}/_search", {"size": 100, "version": True, "query": {"match_all": {}}})
            body = "".join(json.dumps({"index": {"_index": fixed, "_id": h["_id"], "version": h["_version"],
                                                 "version_type": "external"}}) + "\n" + json.dumps(h["_source"]) + "\n"
                           for h in r["hits"]["hits"])
            _, b = http("POST", "/_bulk?refresh=true", body)
            check(not b["errors"], f"copy into {fixed}: {b}")
        delete_index(t)
        http("POST", "/_aliases", {"actions": [{"add": {"index": fixed, "alias": t}}]})
        check(set(index_docs(t)) == {"1", "3", "5", "6"} and version(t, "5") == v5,
              "the reindexed documents keep their versions")

        with open(dl + ".remaining", "w") as f:
            f.write("stale\n")
        rc, out, err = replay(es, dl)
        check(rc == 0, f"everything applied or superseded: exit 0, got {rc}: {out} {err}")
        check(out.splitlines()[0] == "replayed 4: applied 3, superseded 1, rejected 0, failed 0, bad lines 0",
              f"summary after the fix: {out}")
        check(not os.path.exists(dl + ".remaining"), "no .remaining file when nothing remains (the stale one is removed)")
        check(sha256(dl) == original, "the dead-letter file is never modified")
        wait_in_sync(t, expected)
        docs = index_docs(t)
        check(docs["5"]["qty"] == "50" and version(t, "5") == v5, f"row 5 is not regressed: {docs['5']}")
        check(docs["4"]["qty"] == "still four" and docs["2"]["qty"] == "two", f"replayed rows: {docs}")

        # the .remaining of the first replay replays too: its rewritten lines are all superseded now
        rc, out, err = replay(es, copy + ".remaining")
        check(rc == 1 and out.splitlines()[0] ==
              "replayed 5: applied 0, superseded 4, rejected 0, failed 0, bad lines 1", f"replay of .remaining: {out}")
        check(read_lines(copy + ".remaining.remaining") == ['{"time":"2024-01-01T00:00'],
              "only the bad line remains")
        wait_in_sync(t, expected)
    finally:
        delete_index(fixed)
        delete_index(t)


TESTS = [test_replay_dead_letters]
