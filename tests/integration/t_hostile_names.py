"""Data from outside cannot forge log lines or drive a terminal: a MariaDB table whose name holds a newline
and ESC (no rule matches it) shows up escaped on one line of the text log; `canal-es status` of a hand-edited
checkpoint whose binlog file name holds control characters prints them escaped."""
import json
import os
import subprocess

import itlib
from harness import CanalEs, check, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows

FORGED = "2026-01-01T00:00:00.000Z ERROR forged"
EVIL = f"evil\n{FORGED}\x1b[2J"
EVIL_ESCAPED = f"evil\\n{FORGED}\\x1b[2J"


def control_bytes(data):
    """Bytes that are control characters, the line ends excepted."""
    return sorted({b for b in data if (b < 0x20 and b != 0x0A) or b == 0x7F})


def test_hostile_table_name_escaped_in_log():
    t = "hn_ok"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    es.start()
    try:
        sql(f"CREATE TABLE `{DB}`.`{EVIL}` (id INT PRIMARY KEY, v VARCHAR(20)); "
            f"INSERT INTO `{DB}`.`{EVIL}` VALUES (1, 'a'), (2, 'b'); "
            f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 2)};")
        wait_in_sync(t, product_docs(t))
        poll(lambda: "no [table] rule matches" in es.log_text() and EVIL_ESCAPED in es.log_text(), 30,
             "the warning about the hostile table")
        check(es.alive(), "canal-es keeps running: " + es.tail())
    finally:
        es.stop()
    with open(es.log, "rb") as f:
        raw = f.read()
    check(control_bytes(raw) == [], f"raw control bytes in the log: {control_bytes(raw)}; {raw[-1500:]!r}")
    lines = raw.decode("utf-8").splitlines()
    warned = [x for x in lines if EVIL_ESCAPED in x and "no [table] rule matches" in x]
    check(len(warned) == 1, f"one warning line naming {EVIL_ESCAPED!r}: {warned}")
    check(not any(x.startswith(FORGED) for x in lines), "a forged line in the log")


def test_hostile_checkpoint_status_escaped():
    es = CanalEs(itlib.BIN, {f"{DB}.hn_none": {"index": "hn_none"}})
    ck = os.path.join(es.dir, "checkpoint.json")
    with open(es.ini, "a") as f:
        f.write(f"\n[checkpoint]\nfile = {ck}\n")
    with open(ck, "w") as f:
        json.dump({"version": 1, "destination": "example\x1b]0;title\x07", "client_id": 1001, "batch_id": 7,
                   "binlog_file": "mysql-bin.000001\nlag_seconds: 0\x1b[2J\r\u009b", "binlog_offset": 4,
                   "gtid": "", "source_time_ms": 1700000000000, "wall_time_ms": 1700000000000}, f)
    p = subprocess.run([itlib.BIN, "status", "-c", es.ini], capture_output=True, env=es.env, timeout=30)
    check(p.returncode == 0, f"status exit {p.returncode}: {p.stderr[-500:]!r}")
    out = p.stdout.decode("utf-8")
    check(control_bytes(p.stdout) == [] and "\u009b" not in out, f"raw control characters in the output: {out!r}")
    lines = out.splitlines()
    check(len(lines) == 8 and [x.split(":")[0] for x in lines] ==
          ["destination", "client_id", "batch_id", "binlog", "gtid", "source_time", "checkpoint_time", "lag_seconds"],
          f"one field per line: {lines}")
    check("binlog: mysql-bin.000001\\nlag_seconds: 0\\x1b[2J\\r\\xc2\\x9b:4" in lines,
          f"the escaped binlog file name: {lines}")
    check("destination: example\\x1b]0;title\\x07" in lines, f"the escaped destination: {lines}")


TESTS = [test_hostile_table_name_escaped_in_log, test_hostile_checkpoint_status_escaped]
