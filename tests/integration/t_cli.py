"""Command line: `run --dry-run` prints the NDJSON it would send and acks nothing; per-command --help."""
import json
import re
import socket
import subprocess
import urllib.error
import urllib.request

import itlib
from harness import CanalEs, check, http, index_docs, node_has_type, poll, sql, wait_in_sync
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


MAPPED_DDL = """CREATE TABLE `{db}`.`{t}` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, qty INT, price DECIMAL(10,2), ratio DOUBLE, born DATE,
  seen DATETIME(3), name VARCHAR(50), body TEXT, kind ENUM('a','b'), tags SET('x','y'), flag TINYINT(1),
  secret VARCHAR(20)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def test_cli_mapping_suggests_a_mapping_the_node_accepts():
    """`canal-es mapping --table` prints the mapping `mapping = auto` would create, from the types Canal
    reports and what the node offers; an index created with it (dynamic: strict) accepts every document
    canal-es then sends."""
    t = "suggested"
    new_table(t, MAPPED_DDL)
    rules = {f"{DB}.{t}": {"index": t, "convert": "flag:bool", "exclude": "secret", "rename": "body:text"}}
    es = CanalEs(itlib.BIN, rules)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (18446744073709551615, 5, 10.50, 0.25, '2024-02-29', "
        f"'2024-02-29 10:11:12.123', 'n', 'long text', 'b', 'x,y', 1, 's');")
    p = subprocess.run([itlib.BIN, "mapping", "-c", es.ini, "--table", f"{DB}.{t}", "--timeout", "30"],
                       capture_output=True, text=True, env=es.env, timeout=120)
    check(p.returncode == 0, f"mapping exit {p.returncode}: {p.stderr[-600:]}")
    m = json.loads(p.stdout)
    props = m["mappings"]["properties"]
    # the embedded Elasticsearch 7.17/8 have no unsigned_long (x-pack), the embedded 8 no scaled_float
    # (mapper-extras): the command asks the node
    ulong = "unsigned_long" if node_has_type("unsigned_long") else "keyword"
    dec = "scaled_float" if node_has_type("scaled_float") else "double"
    want = {"id": ulong, "qty": "integer", "price": dec, "ratio": "double", "born": "date",
            "seen": "date", "name": "text", "text": "text", "kind": "keyword", "tags": "keyword",
            "flag": "boolean"}
    check({k: v["type"] for k, v in props.items()} == want, f"suggested types: {props}")
    check(props["price"].get("scaling_factor") == (100 if dec == "scaled_float" else None)
          and props["seen"]["format"] == "strict_date_optional_time"
          and props["name"]["fields"]["keyword"]["type"] == "keyword", f"suggested details: {props}")
    m["mappings"]["dynamic"] = "strict"
    http("PUT", f"/{t}", m)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (2, NULL, -1.00, 1e10, NULL, NULL, '', '', 'a', '', 0, NULL);")
    es.start()
    try:
        got = {}

        def both_arrived():
            got.update(index_docs(t))
            return len(got) == 2
        poll(both_arrived, 60, "2 documents")
        check(got["18446744073709551615"]["flag"] is True and got["2"]["price"] == "-1.00", f"documents: {got}")
        check("rejected" not in es.log_text(), "the suggested mapping must accept the documents: " + es.tail())
    finally:
        es.stop()


def check_config(es, env=None):
    p = subprocess.run([itlib.BIN, "check-config", "-c", es.ini], capture_output=True, text=True,
                       env=env or es.env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_cli_check_config_verdicts():
    """check-config: a good config passes (exit 0); a wrong Canal password, a wrong destination, a missing
    alias and an unreachable node each fail (exit 1) with a verdict that says what to fix; a syntax error
    exits 2 naming FILE:LINE."""
    t = "checked"
    new_table(t)
    http("PUT", f"/{t}", {})
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}, f"{DB}.not_yet": {"index": "not-yet-there"}})
    rc, out, err = check_config(es)
    check(rc == 0, f"good config: exit {rc}\n{out}{err}")
    check(re.search(r"^ok\s+canal \S+: authenticated as 'canal', subscribed to destination example", out, re.M)
          and re.search(r"^ok\s+search http\S+: (opensearch|elasticsearch) \d", out, re.M)
          and re.search(rf"^ok\s+table {DB}\.{t} \(line \d+\): index {t} exists", out, re.M)
          and re.search(r"^ok\s+table .*index not-yet-there does not exist yet: created from the column types", out,
                        re.M),
          f"verdicts: {out}")
    good = open(es.ini).read()

    def variant(text):
        with open(es.ini, "w") as f:
            f.write(text)
        return check_config(es)
    rc, out, _ = variant(good)
    env = dict(es.env, IT_CANAL_PASSWORD="wrong")
    rc, out, _ = check_config(es, env)
    check(rc == 1 and re.search(r"^FAIL\s+canal: .*authentication failed.*check \[canal\] username and password",
                                out, re.M), f"wrong password: {rc} {out}")
    rc, out, _ = variant(good.replace("destination = example", "destination = nosuchdest"))
    check(rc == 1 and re.search(r"^FAIL\s+canal: .*nosuchdest", out, re.M), f"wrong destination: {rc} {out}")
    rc, out, _ = variant(good.replace("index = not-yet-there", "index = not-yet-there\nalias = no-such-alias"))
    check(rc == 0 and re.search(r"^ok\s+table .*alias no-such-alias does not exist yet: created from the column",
                                out, re.M), f"missing alias, mapping = auto creates it: {rc} {out}")
    rc, out, _ = variant(good.replace("index = not-yet-there",
                                      "index = not-yet-there\nalias = no-such-alias\nmapping = dynamic"))
    check(rc == 1 and re.search(r"^FAIL\s+table .*alias no-such-alias does not exist", out, re.M),
          f"missing alias: {rc} {out}")
    url = re.search(r"^url = (.*)$", good, re.M).group(1)
    rc, out, _ = variant(good.replace(f"url = {url}", "url = http://127.0.0.1:9"))
    check(rc == 1 and re.search(r"^FAIL\s+search http://127.0.0.1:9: .*check \[elasticsearch\] url", out, re.M),
          f"unreachable node: {rc} {out}")
    rc, out, err = variant(good.replace("[elasticsearch]", "[elasticsearch]\nbulk_max_bytes = lots"))
    check(rc == 2 and "canal-es.ini:" in out and "bulk_max_bytes" in out, f"bad value: {rc} {out} {err}")
    variant(good)


def run_refusal(es, timeout=60):
    """`run` on a config it must refuse before starting: (exit code, stderr)."""
    p = subprocess.run([itlib.BIN, "run", "-c", es.ini], capture_output=True, text=True, env=es.env,
                       timeout=timeout)
    return p.returncode, p.stderr


def test_cli_check_config_refuses_what_run_refuses():
    """check-config makes the checks run makes before starting (one function): [log] file a directory,
    [checkpoint] file in a missing directory, dead_letter a directory, an [http] listen that is not host:port
    each make both exit non-zero with the same message naming the key; listen = [::1]:PORT is served by run."""
    t = "localchecks"
    new_table(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    good = open(es.ini).read()
    cases = [
        ("[log] file", good + f"\n[log]\nfile = {es.dir}\n", "is a directory"),
        ("[checkpoint] file", good + f"\n[checkpoint]\nfile = {es.dir}/missing/ckpt.json\n",
         f"directory {es.dir}/missing: No such file or directory"),
        ("[elasticsearch] dead_letter", good.replace("[elasticsearch]", f"[elasticsearch]\ndead_letter = {es.dir}"),
         "is a directory"),
        ("[http] listen", good + "\n[http]\nlisten = [::1:9180\n", "is not host:port"),
    ]
    for key, text, why in cases:
        with open(es.ini, "w") as f:
            f.write(text)
        rc, out, err = check_config(es)
        line = next((ln for ln in out.splitlines() if ln.startswith("FAIL") and key in ln), None)
        check(rc != 0 and line and why in line, f"check-config with a bad {key}: exit {rc}\n{out}{err}")
        msg = line.split(None, 1)[1]
        rrc, rerr = run_refusal(es)
        check(rrc == 2 and f"canal-es: {msg}" in rerr, f"run with a bad {key}: exit {rrc}, {rerr!r}; "
              f"check-config said {msg!r}")
    # IPv6: check-config finds nothing to refuse and run serves /health there
    with socket.socket(socket.AF_INET6) as s6:
        s6.bind(("::1", 0))
        port = s6.getsockname()[1]
    with open(es.ini, "w") as f:
        f.write(good + f"\n[http]\nlisten = [::1]:{port}\n")
    rc, out, err = check_config(es)
    check(rc == 0 and not re.search(r"^FAIL", out, re.M), f"check-config with listen [::1]: {rc}\n{out}{err}")
    es.start()
    try:
        def health():
            try:
                with urllib.request.urlopen(f"http://[::1]:{port}/health", timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code
            except OSError:
                return None
        status = poll(health, 60, "/health on [::1]")
        check(status in (200, 503), f"/health on [::1]: {status}")
    finally:
        es.stop()


TESTS = [test_cli_dry_run_sends_and_acks_nothing, test_cli_help_per_command,
         test_cli_mapping_suggests_a_mapping_the_node_accepts, test_cli_check_config_verdicts,
         test_cli_check_config_refuses_what_run_refuses]
