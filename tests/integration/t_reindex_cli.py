"""`canal-es reindex` and the admin endpoints of [http] listen on the real stack: usage and configuration
errors exit 2 with a message; POST /reindex needs [http] admin_token as a Bearer token (403 otherwise, and no
job is created); --status lists the service's jobs; a table without a rule is refused with the 404 message
(from a service and in-process); a job asked from the CLI completes and the alias then points at a full index
(service mode and standalone mode)."""
import contextlib
import json
import os
import socket
import subprocess
import urllib.error
import urllib.request

import itlib
from harness import ENV, CanalEs, check, http, index_docs, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows

TOKEN = "it-admin-token-9f8e7d"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, token=None):
    """(status, parsed JSON or text) of one request to the listener."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    req = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, body = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read().decode()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


def configure(es, port, token=TOKEN, mysql=True, listen_host="127.0.0.1", snapshot="never"):
    """[http] (listen, admin_token), [mysql] of the stack and [defaults] snapshot appended to es's INI."""
    lines = ["", "[checkpoint]", f"file = {os.path.join(es.dir, 'checkpoint.json')}",
             "", "[http]", f"listen = {listen_host}:{port}" if port else "listen ="]
    if token:
        lines.append(f"admin_token = {token}")
    if mysql:
        lines += ["", "[mysql]", f"host = {ENV['MYSQL_HOST']}", f"port = {ENV['MYSQL_PORT']}",
                  f"user = {ENV['MYSQL_USER']}", "password = ${IT_MYSQL_PASSWORD}"]
        es.env = dict(es.env, IT_MYSQL_PASSWORD=ENV["MYSQL_PASSWORD"])
    text = open(es.ini).read()
    # [defaults] snapshot: the rules' initial loads only when a test wants them
    if "[defaults]" in text:
        text = text.replace("[defaults]\n", f"[defaults]\nsnapshot = {snapshot}\n", 1)
    else:
        text = text.replace("[elasticsearch]\n", f"[defaults]\nsnapshot = {snapshot}\n\n[elasticsearch]\n", 1)
    with open(es.ini, "w") as f:
        f.write(text + "\n".join(lines) + "\n")
    return es


def cli(es, *args, timeout=120):
    p = subprocess.run([itlib.BIN, "reindex", "-c", es.ini, *args], capture_output=True, text=True, env=es.env,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


@contextlib.contextmanager
def running(es, base):
    """es started, its listener answering GET /reindex; stopped at the end (exit 0 checked)."""
    es.start()
    try:
        poll(lambda: es.alive() and request("GET", base + "/health")[0] in (200, 503), 60,
             "the [http] listener to answer")
        yield es
    finally:
        rc = es.stop()
    check(rc == 0, f"canal-es did not exit 0 on SIGTERM ({rc}): {es.tail()}")


def jobs(base):
    status, body = request("GET", base + "/reindex")
    check(status == 200 and isinstance(body, dict) and isinstance(body.get("jobs"), list),
          f"GET /reindex: {status} {body}")
    return body["jobs"]


# ------------------------------------------------------------------ tests
def test_reindex_cli_usage_errors():
    """Usage and configuration errors exit 2 and say what to do."""
    t = "rx_usage"
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    configure(es, 0, token=None)  # [http] listen empty

    def run(*args):
        p = subprocess.run([itlib.BIN, "reindex", *args], capture_output=True, text=True, env=es.env, timeout=60)
        return p.returncode, p.stdout + p.stderr
    for args, want in (((), "-c FILE is required"),
                       (("-c", es.ini), "--table DB.TABLE, --status or --cancel ID"),
                       (("-c", es.ini, "--table", "nodot"), "--table must be DB.TABLE"),
                       (("-c", es.ini, "--status", "--cancel", "1"), "go alone"),
                       (("-c", es.ini, "--status", "--in-place"), "--in-place and --no-wait go with --table"),
                       (("-c", es.ini, "--cancel", "x1"), "--cancel needs a job id"),
                       (("-c", es.ini, "--bogus"), "unexpected argument '--bogus'"),
                       (("-c", es.ini + ".missing", "--status"), "cannot open"),
                       (("-c", es.ini, "--status"), "[http] listen"),
                       (("-c", es.ini, "--cancel", "1"), "[http] listen"),
                       (("-c", es.ini, "--table", f"{DB}.{t}", "--no-wait"), "--no-wait needs a running service")):
        rc, out = run(*args)
        check(rc == 2 and want in out, f"reindex {' '.join(args)}: exit {rc}, want 2 and '{want}': {out[-600:]}")
    p = subprocess.run([itlib.BIN, "reindex", "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.startswith("usage: canal-es reindex") and "--in-place" in p.stdout
          and "exit status" in p.stdout, f"reindex --help: {p.returncode} {p.stdout[:300]}")
    p = subprocess.run([itlib.BIN, "--help"], capture_output=True, text=True)
    check("canal-es reindex -c FILE --table DB.TABLE" in p.stdout, "the usage text lists reindex")


def test_reindex_cli_post_needs_admin_token():
    """POST /reindex and /reindex/cancel answer 403 without the token, with a wrong one and when the service
    has none; no job is created; the token is never echoed; GET /reindex needs none. The CLI without a token
    in its configuration exits 2 naming [http] admin_token."""
    t = "rx_token"
    new_table(t)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 5)};")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), port)
    with running(es, base):
        before = jobs(base)
        for token, want in ((None, "Authorization: Bearer TOKEN"), ("wrong", "is not the [http] admin_token"),
                            (TOKEN + "x", "is not the [http] admin_token"), ("", "admin_token")):
            status, body = request("POST", f"{base}/reindex?table={DB}.{t}", token)
            check(status == 403 and isinstance(body, dict) and want in body.get("error", ""),
                  f"POST with token {token!r}: {status} {body}")
            check(TOKEN not in json.dumps(body), "the 403 must not echo the token")
        status, body = request("POST", f"{base}/reindex/cancel?id=1", "wrong")
        check(status == 403, f"cancel with a wrong token: {status} {body}")
        check(request("DELETE", f"{base}/reindex", TOKEN)[0] == 405, "DELETE /reindex is 405")
        check(request("GET", f"{base}/reindex/cancel?id=1")[0] == 405, "GET /reindex/cancel is 405")
        check(jobs(base) == before, f"no job may be created by refused requests: {before} -> {jobs(base)}")
        # the CLI with a configuration lacking the token: exit 2, says which key to set
        other = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
        configure(other, port, token=None)
        rc, out, err = cli(other, "--table", f"{DB}.{t}")
        check(rc == 2 and "[http] admin_token" in err, f"CLI without admin_token: {rc} {out} {err}")
        rc, out, err = cli(other, "--cancel", "1")
        check(rc == 2 and "[http] admin_token" in err, f"CLI --cancel without admin_token: {rc} {out} {err}")
        other2 = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
        configure(other2, port, token="not-the-token")
        rc, out, err = cli(other2, "--table", f"{DB}.{t}")
        check(rc == 2 and "403" in err and "admin_token" in err, f"CLI with a wrong token: {rc} {out} {err}")
        check(jobs(base) == before, "the CLI's refused requests created no job")
    check(TOKEN not in es.log_text(), "the token is never logged")

    # a service without a token: every POST is 403 and says to set one
    port2 = free_port()
    base2 = f"http://127.0.0.1:{port2}"
    es2 = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), port2, token=None)
    with running(es2, base2):
        status, body = request("POST", f"{base2}/reindex?table={DB}.{t}", TOKEN)
        check(status == 403 and "no [http] admin_token" in body.get("error", ""), f"no token: {status} {body}")
        check(jobs(base2) == [], "no job created")
    check("POST /reindex answers 403: no [http] admin_token" in es2.log_text(), "start line says POSTs are off")

    # a token on a listener off loopback: one WARN at start
    port3 = free_port()
    es3 = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), port3, listen_host="0.0.0.0")
    with running(es3, f"http://127.0.0.1:{port3}"):
        poll(lambda: "is not a loopback address" in es3.log_text(), 10, "the WARN about the token in clear")
    check(TOKEN not in es3.log_text(), "the token is never logged")


def test_reindex_cli_status_lists_jobs():
    """--status against a running service prints its jobs (none, then the one the CLI queued with
    --no-wait); `canal-es status` shows the live jobs too. The queued job needs the job engine."""
    t = "rx_status"
    new_table(t)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 20)};")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), port)
    with running(es, base):
        rc, out, err = cli(es, "--status")
        check(rc == 0 and "no reindex jobs" in out, f"--status with no job: {rc} {out} {err}")
        rc, out, err = cli(es, "--table", f"{DB}.{t}", "--in-place", "--no-wait")
        check(rc == 0 and out.startswith("job "), f"--no-wait submit: {rc} {out} {err}")
        job_id = int(out.split()[1].rstrip(":"))
        rc, out, err = cli(es, "--status")
        check(rc == 0 and "ID" in out and "STATE" in out and "ROWS/ESTIMATE" in out, f"--status header: {out}")
        row = [line for line in out.splitlines() if line.split()[:1] == [str(job_id)]]
        check(row and f"{DB}.{t}" in row[0] and "in_place" in row[0], f"--status lists job {job_id}: {out}")
        p = subprocess.run([itlib.BIN, "status", "-c", es.ini], capture_output=True, text=True, env=es.env,
                           timeout=60)
        check(f"live jobs of the service on 127.0.0.1:{port}" in p.stdout and f"{DB}.{t}" in p.stdout,
              f"canal-es status shows the live jobs: {p.stdout} {p.stderr}")
        poll(lambda: any(j["id"] == job_id and j["state"] in ("done", "failed") for j in jobs(base)), 120,
             "the job to end")
        check([j["state"] for j in jobs(base) if j["id"] == job_id] == ["done"], f"the job: {jobs(base)}")
        wait_in_sync(t, product_docs(t))


def test_reindex_cli_table_without_rule():
    """A table no rule matches: 404 from the service, exit 2 with its message; the same in-process when
    no service runs. Needs the job engine (the interface stub answers 503)."""
    t = "rx_norule"
    new_table(t)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), port)
    with running(es, base):
        status, body = request("POST", f"{base}/reindex?table={DB}.no_such_table", TOKEN)
        check(status == 404 and "rule" in body.get("error", ""), f"POST for a table without a rule: {status} {body}")
        rc, out, err = cli(es, "--table", f"{DB}.no_such_table")
        check(rc == 2 and "HTTP 404" in err and "rule" in err, f"CLI: {rc} {out} {err}")
        check(jobs(base) == [], "no job created")
    # no service: the same refusal from this process
    rc, out, err = cli(es, "--table", f"{DB}.no_such_table")
    check(rc == 2 and "rule" in err, f"CLI in-process: {rc} {out} {err[-800:]}")


def test_reindex_cli_completes_alias_swap():
    """Service mode: `canal-es reindex --table` (waiting) exits 0 once the alias points at a new index holding
    every row; progress lines go to stderr (not a terminal: one every 5 s and each state change); /metrics
    counts the job. Needs the job engine."""
    t = "rx_swap"
    new_table(t)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 300)};")
    alias = f"{t}-live"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": f"{t}-v1", "alias": alias}}), port)
    with running(es, base):
        sql(f"UPDATE `{DB}`.`{t}` SET qty = 1 WHERE id <= 10;")
        rc, out, err = cli(es, "--table", f"{DB}.{t}", timeout=300)
        check(rc == 0 and "done" in out, f"reindex exit {rc}: {out} {err[-1500:]}")
        check(f"job " in err and "rows" in err, f"progress lines on stderr: {err[-800:]}")
        done = [x for x in out.splitlines() if " done: " in x]
        check(done and f"(alias {alias})" in done[0], f"the done line names the alias: {out}")
        new_index = done[0].split(" in ")[1].split()[0]
        check(new_index.startswith(f"{alias}-"), f"the new index {new_index}")
        _, got = http("GET", f"/_alias/{alias}")
        check(list(got) == [new_index], f"the alias points at the new index: {got}")
        wait_in_sync(alias, product_docs(t))
        _, text = request("GET", base + "/metrics")
        check('canal_es_reindex_jobs_total{result="done"} 1' in text, "metrics count the job")
        rows = [float(x.split()[1]) for x in text.splitlines() if x.startswith("canal_es_reindex_rows_total ")]
        check(rows and rows[0] >= 300, f"snapshot rows counted: {rows}")


def test_reindex_cli_standalone_in_place():
    """Standalone mode: no service listens, so `canal-es reindex --in-place` runs the pipeline itself, loads
    the table, acks, and exits 0 with the index holding every row; exit 1 with the error when the job fails
    is covered by the engine's tests. Needs the job engine."""
    t = "rx_alone"
    new_table(t)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 250)};")
    port = free_port()
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), port)
    rc, out, err = cli(es, "--table", f"{DB}.{t}", "--in-place", timeout=300)
    check(rc == 0 and "in this process" in out and "done" in out, f"standalone exit {rc}: {out} {err[-1500:]}")
    docs = index_docs(t)
    want = product_docs(t)()
    check(docs == want, f"every row in the index: {len(docs)} documents, {len(want)} rows")
    check(os.path.exists(os.path.join(es.dir, "checkpoint.json")), "the standalone run wrote the checkpoint")


def test_one_service_per_checkpoint_file():
    """A second `run` with the same [checkpoint] file, and a standalone `reindex` while a service holds it
    without an [http] listener, exit 1 naming the lock and the pid of the first; the first one keeps
    streaming."""
    t = "rx_lock"
    new_table(t)
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}), 0, token=None)
    es.start()
    try:
        poll(lambda: os.path.exists(os.path.join(es.dir, "checkpoint.json.lock")), 30, "the lock file")
        second = subprocess.run([itlib.BIN, "run", "-c", es.ini], capture_output=True, text=True, env=es.env,
                                timeout=60)
        check(second.returncode == 1 and "another canal-es (pid" in second.stderr and
              "checkpoint.json.lock" in second.stderr, f"second run: {second.returncode} {second.stderr[-800:]}")
        rc, out, err = cli(es, "--table", f"{DB}.{t}", "--in-place", timeout=60)
        check(rc == 1 and "another canal-es (pid" in out + err, f"standalone reindex beside it: {rc} {out} {err}")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 3)};")
        wait_in_sync(t, product_docs(t))
        check(es.alive(), "the first service exited: " + es.tail())
    finally:
        rc = es.stop()
    check(rc == 0, f"canal-es did not exit 0 ({rc}): {es.tail()}")


def test_reindex_cli_cancel():
    """--cancel ID stops a running job: exit 0; the waiting client then exits 1 saying it was cancelled; a
    second --cancel exits 1 with the server's message; the alias stays on the old index. Needs the job
    engine."""
    t = "rx_cancel"
    new_table(t)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 3000)};")
    alias = f"{t}-live"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    es = configure(CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": f"{t}-v1", "alias": alias}}), port)
    with open(es.ini, "a") as f:
        f.write("\n[reindex]\nchunk_rows = 100\nmax_rows_per_s = 200\n")
    with running(es, base):
        wait_in_sync(alias, product_docs(t))  # the stream created the first index behind the alias
        _, before = http("GET", f"/_alias/{alias}")
        waiting = subprocess.Popen([itlib.BIN, "reindex", "-c", es.ini, "--table", f"{DB}.{t}"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=es.env)
        try:
            job = poll(lambda: next((j for j in jobs(base) if j["state"] == "loading" and j["rows"] > 0), None), 60,
                       "the job to be loading")
            rc, out, err = cli(es, "--cancel", str(job["id"]))
            check(rc == 0 and f"job {job['id']} cancelled" in out, f"--cancel: {rc} {out} {err}")
            out, err = waiting.communicate(timeout=60)
            check(waiting.returncode == 1 and "cancelled" in err, f"waiting client: {waiting.returncode} {out} {err}")
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait()
        rc, out, err = cli(es, "--cancel", str(job["id"]))
        check(rc == 1 and "HTTP 409" in err, f"second --cancel: {rc} {out} {err}")
        rc, out, err = cli(es, "--cancel", "999999")
        check(rc == 1 and "HTTP 404" in err, f"--cancel of an unknown id: {rc} {out} {err}")
        rc, out, err = cli(es, "--status")
        check(rc == 0 and any(line.split()[:1] == [str(job["id"])] and "cancelled" in line
                              for line in out.splitlines()), f"--status shows the cancelled job: {out}")
        _, after = http("GET", f"/_alias/{alias}")
        check(list(after) == list(before), f"the alias stays where it was: {before} -> {after}")
        wait_in_sync(alias, product_docs(t))


TESTS = [
    test_one_service_per_checkpoint_file,
    test_reindex_cli_usage_errors,
    test_reindex_cli_post_needs_admin_token,
    test_reindex_cli_status_lists_jobs,
    test_reindex_cli_table_without_rule,
    test_reindex_cli_completes_alias_swap,
    test_reindex_cli_standalone_in_place,
    test_reindex_cli_cancel,
]
