"""[log] format = json and file = PATH, reopened on SIGHUP (logrotate): records are JSON lines with time,
level, component, destination and msg; after the file is moved and SIGHUP sent, new records go to a new file."""
import json
import os
import signal

import itlib
from harness import CanalEs, check, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows


def read_records(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f.read().splitlines() if line]


def test_logs_json_file_and_sighup_reopen():
    t = "logged"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    logf = os.path.join(es.dir, "service.log")
    with open(es.ini, "a") as f:
        f.write(f"\n[log]\nformat = json\nfile = {logf}\nlevel = info\n")
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 3)};")
        wait_in_sync(t, product_docs(t))
        recs = read_records(logf)
        check(any(r["component"] == "source" and "connected to canal" in r["msg"] for r in recs),
              f"the connect record: {recs[:5]}")
        for r in recs:
            check(set(r) == {"time", "level", "component", "destination", "msg"} and r["destination"] == "example"
                  and r["level"] in ("error", "warn", "info", "debug") and r["time"].endswith("Z"),
                  f"record fields: {r}")
        os.rename(logf, logf + ".1")
        es.proc.send_signal(signal.SIGHUP)
        # a row of a table no rule matches makes a warning: it must land in the new file
        sql(f"CREATE TABLE `{DB}`.`unmapped_after_hup` (id INT PRIMARY KEY); "
            f"INSERT INTO `{DB}`.`unmapped_after_hup` VALUES (1);")
        poll(lambda: any("unmapped_after_hup" in r["msg"] for r in read_records(logf)), 30,
             "the warning in the reopened log file")
        check(es.alive(), "SIGHUP must not stop canal-es")
        check(not any("unmapped_after_hup" in r["msg"] for r in read_records(logf + ".1")),
              "the rotated file must not get new records")
        check(os.path.getsize(es.log) == 0 or "ERROR" not in open(es.log).read(),
              "nothing goes to stderr when a log file is set: " + es.tail())
    finally:
        es.stop()


TESTS = [test_logs_json_file_and_sighup_reopen]
