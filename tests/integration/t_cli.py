"""Command line: `run --dry-run` prints the NDJSON it would send and acks nothing; per-command --help."""
import json
import subprocess

import itlib
from harness import CanalEs, check, http, index_docs, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows


def test_cli_dry_run_sends_and_acks_nothing():
    t = "dryrun"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 5)}; DELETE FROM `{DB}`.`{t}` WHERE id = 2;")
    p = subprocess.run([itlib.BIN, "run", "--dry-run", "-c", es.ini], capture_output=True, text=True, env=es.env,
                       timeout=120)
    check(p.returncode == 0, f"dry run exit {p.returncode}: {p.stderr[-800:]}")
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    actions = [x for x in lines if "index" in x or "delete" in x]
    mine = [a for a in actions if (a.get("index") or a.get("delete"))["_index"] == t]
    check([("index" if "index" in a else "delete", (a.get("index") or a.get("delete"))["_id"]) for a in mine] ==
          [("index", "1"), ("index", "2"), ("index", "3"), ("index", "4"), ("index", "5"), ("delete", "2")],
          f"the dry run prints every action in binlog order: {mine}")
    check("nothing sent or acked" in p.stderr, "final message: " + p.stderr[-400:])
    status, _ = http("GET", f"/{t}/_count", ok=(200, 404))
    check(status == 404, "a dry run must not create the index")
    # nothing was acked: the real run gets the same changes
    es.start()
    try:
        wait_in_sync(t, product_docs(t))
        check(sorted(index_docs(t), key=int) == ["1", "3", "4", "5"], "the real run after the dry run")
    finally:
        es.stop()


def test_cli_help_per_command():
    for cmd, want in (("run", "--dry-run"), ("status", "lag in seconds"), ("replay-dead-letters", "remaining")):
        p = subprocess.run([itlib.BIN, cmd, "--help"], capture_output=True, text=True)
        check(p.returncode == 0 and p.stdout.startswith(f"usage: canal-es {cmd}") and want in p.stdout,
              f"{cmd} --help: {p.returncode} {p.stdout[:300]} {p.stderr[:300]}")
    p = subprocess.run([itlib.BIN, "run", "--bogus"], capture_output=True, text=True)
    check(p.returncode == 2 and "--bogus" in p.stderr, f"unknown option: {p}")


TESTS = [test_cli_dry_run_sends_and_acks_nothing, test_cli_help_per_command]
