"""TLS, credentials, several URLs and gzip bodies, through a REAL nginx.

Each test makes a throwaway CA and a server certificate for 127.0.0.1 with
`openssl`, and starts nginx (the Debian package, as the current user, with a
generated nginx.conf; pid, logs and temp files in a temp dir) as an HTTPS
reverse proxy in front of the real search node (ES_URL):
  - one server block requires basic auth (htpasswd made with `openssl passwd -apr1`),
  - another requires the header `Authorization: ApiKey <key>`.
The access log records port, method, path, status, $request_length and the
Content-Encoding of the request and of the answer, so a test can tell
that `_bulk` bodies really travelled gzip-compressed.
Every test ends with the index equal to MariaDB row by row, and stops nginx
even when it fails.
"""
import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import itlib
from harness import ENV, CanalEs, TestFailure, check, index_docs, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows

USER = "canal_es_writer"
PASSWORD = "s3cret-Pa55-for-nginx"
WRONG_PASSWORD = "wrong-Pa55-xyzzy-42"
API_KEY = "Y2FuYWwtZXM6dGVzdC1hcGkta2V5LTAxMjM0NTY3ODk="


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)
    if p.returncode != 0:
        raise TestFailure(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr[-800:]}")
    return p.stdout


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1/localhost signed by it (EC P-256)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(["openssl", "req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt", "-days", "2",
         "-subj", "/CN=canal-es test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    run(["openssl", "req", *ec, "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr", "-subj", "/CN=127.0.0.1"])
    with open(f"{d}/server.ext", "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(["openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
         "-CAcreateserial", "-out", f"{d}/server.crt", "-days", "2", "-extfile", f"{d}/server.ext"])


def nginx_modules():
    """The http modules this nginx binary was built without (their temp path directives are unknown)."""
    p = subprocess.run(["nginx", "-V"], capture_output=True, text=True, timeout=30)
    return set(re.findall(r"--without-http_(\w+)_module", p.stderr + p.stdout))


class Nginx:
    """nginx as an HTTPS reverse proxy in front of ES_URL: port `basic` needs basic auth,
    port `apikey` the ApiKey header."""

    def __init__(self):
        if shutil.which("nginx") is None:
            raise TestFailure("nginx is not installed (scripts/bootstrap.sh installs the Debian package)")
        self.dir = tempfile.mkdtemp(prefix="canal-es-nginx-")
        d = self.dir
        make_certs(d)
        hashed = run(["openssl", "passwd", "-apr1", PASSWORD]).strip()
        with open(f"{d}/htpasswd", "w") as f:
            f.write(f"{USER}:{hashed}\n")
        self.basic, self.apikey = free_port(), free_port()
        self.access_log = f"{d}/access.log"
        upstream = re.sub(r"^https?://", "", ENV["ES_URL"]).rstrip("/")
        without = nginx_modules()
        temps = [f"client_body_temp_path {d}/tmp/body;"]
        for mod, name in (("proxy", "proxy"), ("fastcgi", "fastcgi"), ("uwsgi", "uwsgi"), ("scgi", "scgi")):
            if mod not in without:
                temps.append(f"{name}_temp_path {d}/tmp/{name};")
        os.makedirs(f"{d}/tmp", exist_ok=True)
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""  # workers would drop to nobody
        proxy = """
            proxy_pass http://search_node;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "";
            proxy_read_timeout 120s;"""
        tls = f"ssl_certificate {d}/server.crt; ssl_certificate_key {d}/server.key;"
        conf = f"""
{user}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    {' '.join(temps)}
    log_format ce '$server_port $request_method $uri $status $request_length '
                  'req_enc="$http_content_encoding" resp_enc="$sent_http_content_encoding"';
    access_log {self.access_log} ce;
    client_max_body_size 0;
    upstream search_node {{ server {upstream}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{self.basic} ssl;
        {tls}
        auth_basic "canal-es test";
        auth_basic_user_file {d}/htpasswd;
        location / {{ {proxy} }}
    }}
    server {{
        listen 127.0.0.1:{self.apikey} ssl;
        {tls}
        location / {{
            if ($http_authorization != "ApiKey {API_KEY}") {{ return 401; }}
            {proxy}
        }}
    }}
}}
"""
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(conf)
        self.log = open(f"{d}/nginx.out", "ab")
        self.proc = subprocess.Popen(["nginx", "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf",
                                      "-g", "daemon off;"], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            poll(self._ready, 30, "nginx to listen")
        except BaseException:
            self.stop()
            raise

    def _ready(self):
        if self.proc.poll() is not None:
            raise TestFailure(f"nginx exited {self.proc.returncode}: {self.errors()}")
        for port in (self.basic, self.apikey):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
        return True

    def url(self, port):
        return f"https://127.0.0.1:{port}"

    @property
    def ca(self):
        return f"{self.dir}/ca.crt"

    def errors(self):
        text = ""
        for name in ("nginx.out", "error.log"):
            try:
                with open(f"{self.dir}/{name}", errors="replace") as f:
                    text += f.read()[-1500:]
            except OSError:
                pass
        return text

    def access(self):
        """Parsed access-log lines: (port, method, uri, status, request_length, req_enc, resp_enc)."""
        out = []
        try:
            with open(self.access_log) as f:
                for line in f:
                    m = re.match(r'(\d+) (\S+) (\S+) (\d+) (\d+) req_enc="([^"]*)" resp_enc="([^"]*)"', line)
                    if m:
                        out.append((int(m[1]), m[2], m[3], int(m[4]), int(m[5]), m[6], m[7]))
        except OSError:
            pass
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()


def canal_es(t, url, **es_opts):
    """canal-es for table t with [elasticsearch] url and the given keys (not started)."""
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    text = open(es.ini).read()
    url_line = f"url = {ENV['ES_URL']}\n"
    check(url_line in text, f"unexpected ini text: {text}")
    extra = "".join(f"{k} = {v}\n" for k, v in es_opts.items())
    with open(es.ini, "w") as f:
        f.write(text.replace(url_line, f"url = {url}\n" + extra))
    return es


def bulk_lines(ngx, port=None):
    return [a for a in ngx.access() if a[2] == "/_bulk" and (port is None or a[0] == port)]


def finish(es, t, secrets=()):
    """Stops canal-es (exit 0 expected) after the final row-by-row comparison; no secret in its log."""
    try:
        wait_in_sync(t, product_docs(t))
    except TestFailure as e:
        raise TestFailure(f"{e}\ncanal-es log:\n{es.tail(20)}")
    rc = es.stop()
    check(rc == 0, f"canal-es did not exit 0 on SIGTERM: {es.tail()}")
    log = es.log_text()
    for s in secrets:
        check(s not in log, f"a secret appears in the log: {s!r}")


# ------------------------------------------------------------------ tests
def test_tls_basic_auth_with_ca_file():
    """https + ca_file + username/password through nginx: rows flow, the version is logged, no secret in the log."""
    t = "tls_basic"
    new_table(t)
    ngx = Nginx()
    es = None
    try:
        es = canal_es(t, ngx.url(ngx.basic), username=USER, password=PASSWORD, ca_file=ngx.ca).start()
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 200)};")
        sql(f"UPDATE `{DB}`.`{t}` SET qty = qty + 1 WHERE id <= 50; DELETE FROM `{DB}`.`{t}` WHERE id > 190;")
        finish(es, t, secrets=(PASSWORD,))
        log = es.log_text()
        check(re.search(r"search node https://127\.0\.0\.1:\d+: (opensearch|elasticsearch) \d+\.\d+", log),
              f"the detected version is logged: {log[-1500:]}")
        check(bulk_lines(ngx, ngx.basic), f"no _bulk went through nginx: {ngx.access()[-5:]}")
        check(all(a[3] == 200 for a in bulk_lines(ngx)), f"_bulk answers: {bulk_lines(ngx)[-5:]}")
    except BaseException:
        if es:
            es.stop(sig=signal.SIGKILL)
        raise
    finally:
        ngx.stop()


def test_tls_api_key():
    """api_key: every request carries Authorization: ApiKey; rows flow; the key is not logged."""
    t = "tls_apikey"
    new_table(t)
    ngx = Nginx()
    es = None
    try:
        es = canal_es(t, ngx.url(ngx.apikey), api_key=API_KEY, ca_file=ngx.ca).start()
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 120)};")
        sql(f"UPDATE `{DB}`.`{t}` SET name = 'by api key' WHERE id % 3 = 0;")
        finish(es, t, secrets=(API_KEY,))
        check(bulk_lines(ngx, ngx.apikey), "no _bulk went through the ApiKey server")
        check(not [a for a in ngx.access() if a[3] == 401], f"refused requests: {ngx.access()[-5:]}")
    except BaseException:
        if es:
            es.stop(sig=signal.SIGKILL)
        raise
    finally:
        ngx.stop()


def test_tls_wrong_password_is_fatal():
    """A wrong password: exit 1 naming HTTP 401 and username/password, without the password; the right one then
    delivers the rows (nothing was lost)."""
    t = "tls_wrongpw"
    new_table(t)
    ngx = Nginx()
    es = None
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 30)};")
        es = canal_es(t, ngx.url(ngx.basic), username=USER, password=WRONG_PASSWORD, ca_file=ngx.ca).start()
        rc = es.wait_exit(60)
        log = es.log_text()
        check(rc == 1, f"expected exit 1, got {rc}: {log[-1200:]}")
        check(re.search(r"HTTP 401: the node refused the username/password credentials", log),
              f"the message names 401 and the credential kind: {log[-1200:]}")
        check(WRONG_PASSWORD not in log and PASSWORD not in log, "the password appears in the log")
        check(not index_docs(t), "nothing may be written with refused credentials")
        es = canal_es(t, ngx.url(ngx.basic), username=USER, password=PASSWORD, ca_file=ngx.ca).start()
        finish(es, t, secrets=(PASSWORD,))
    except BaseException:
        if es:
            es.stop(sig=signal.SIGKILL)
        raise
    finally:
        ngx.stop()


def test_tls_unknown_ca_retries_then_verify_false():
    """Without ca_file the certificate cannot be verified: a clear TLS message, retries, nothing acked.
    verify = false then delivers everything (one WARN says so)."""
    t = "tls_noca"
    new_table(t)
    ngx = Nginx()
    es = None
    try:
        es = canal_es(t, ngx.url(ngx.basic), username=USER, password=PASSWORD, shutdown_timeout_ms=1000,
                      retry_max_ms=500).start()
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 40)};")
        poll(lambda: "retrying in" in es.log_text(), 60, "retries against the unverifiable node")
        log = es.log_text()
        check(re.search(r"https://127\.0\.0\.1:\d+/\S*: SSL certificate problem", log) and
              "the node's certificate could not be verified: set ca_file" in log,
              f"the certificate error is reported clearly: {log[-1500:]}")
        check(es.alive(), "canal-es must keep retrying: " + es.tail())
        check(not bulk_lines(ngx), "no request may get through an unverified TLS connection")
        rc = es.stop()
        check(rc == 0 and "un-acked batch will be redelivered" in es.log_text(), f"stop: {rc} {es.tail()}")
        check(PASSWORD not in es.log_text(), "the password appears in the log")
        es = canal_es(t, ngx.url(ngx.basic), username=USER, password=PASSWORD, verify="false").start()
        finish(es, t, secrets=(PASSWORD,))  # the 40 rows were not acked: redelivered now
        check(len(re.findall(r"WARN .*verify = false", es.log_text())) == 1, "one WARN for verify = false")
    except BaseException:
        if es:
            es.stop(sig=signal.SIGKILL)
        raise
    finally:
        ngx.stop()


def test_tls_two_urls_first_dead():
    """url = a dead port, then nginx: rows flow through the second node; the failover names the dead URL."""
    t = "tls_failover"
    new_table(t)
    ngx = Nginx()
    es = None
    dead = f"http://127.0.0.1:{free_port()}"
    try:
        es = canal_es(t, f"{dead}, {ngx.url(ngx.basic)}", username=USER, password=PASSWORD, ca_file=ngx.ca,
                      flush_interval_ms=100).start()
        for i in range(5):  # several batches: round-robin comes back to the dead node after its skip
            sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1 + 40 * i, 40)};")
            wait_in_sync(t, product_docs(t))
        sql(f"UPDATE `{DB}`.`{t}` SET note = 'failover' WHERE id <= 20;")
        finish(es, t, secrets=(PASSWORD,))
        log = es.log_text()
        check(re.search(re.escape(dead) + r"/\S*: .*; node " + re.escape(dead) + r" skipped for \d+ ms, trying "
                        + re.escape(ngx.url(ngx.basic)), log), f"the failover names both URLs: {log[-1500:]}")
        check(bulk_lines(ngx, ngx.basic), "no _bulk reached the second node")
    except BaseException:
        if es:
            es.stop(sig=signal.SIGKILL)
        raise
    finally:
        ngx.stop()


def test_tls_gzip_bodies():
    """compression = gzip: _bulk bodies carry Content-Encoding: gzip through nginx to the node, which applies
    them; nginx's access log shows every _bulk was gzip and far smaller than the documents."""
    t = "tls_gzip"
    new_table(t)
    ngx = Nginx()
    es = None
    try:
        es = canal_es(t, ngx.url(ngx.apikey), api_key=API_KEY, ca_file=ngx.ca, compression="gzip").start()
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 2000)};")
        wait_in_sync(t, product_docs(t))
        # the NDJSON of these 2000 index actions is at least their documents and action lines, compact
        plain = sum(len(json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode()) + 2
                    + len(f'{{"index":{{"_index":"{t}","_id":"{i}"}}}}') for i, d in index_docs(t).items())
        first = sum(a[4] for a in bulk_lines(ngx, ngx.apikey))
        check(first * 3 < plain, f"{first} bytes on the wire for at least {plain} bytes of NDJSON: not compressed?")
        sql(f"UPDATE `{DB}`.`{t}` SET note = CONCAT('gzip ', id) WHERE id % 2 = 0; "
            f"DELETE FROM `{DB}`.`{t}` WHERE id % 5 = 0;")
        finish(es, t, secrets=(API_KEY,))
        bulks = bulk_lines(ngx, ngx.apikey)
        check(bulks, "no _bulk went through nginx")
        check(all(a[5] == "gzip" for a in bulks), f"a _bulk without Content-Encoding: gzip: {bulks[:5]}")
        check(all(a[3] == 200 for a in bulks), f"_bulk answers: {bulks[:5]}")
        check(any(a[6] == "gzip" for a in bulks), f"no gzip answer although curl accepts them: {bulks[:3]}")
        print(f"  gzip: 2000 inserts: {first} bytes sent (NDJSON >= {plain} bytes); all: {len(bulks)} _bulk "
              f"requests, answers gzip: {sum(1 for a in bulks if a[6] == 'gzip')}/{len(bulks)}", flush=True)
    except BaseException:
        if es:
            es.stop(sig=signal.SIGKILL)
        raise
    finally:
        ngx.stop()


TESTS = [
    test_tls_basic_auth_with_ca_file,
    test_tls_api_key,
    test_tls_wrong_password_is_fatal,
    test_tls_unknown_ca_retries_then_verify_false,
    test_tls_two_urls_first_dead,
    test_tls_gzip_bodies,
]
