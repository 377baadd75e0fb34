"""Canal high availability: a two-server Canal cluster (canal-ha1, canal-ha2) coordinated by
ZooKeeper, serving destination CANAL_HA_DESTINATION from the same MariaDB (scripts/stack.sh with
STACK_HA=1). One server runs the destination, the other is a standby that answers "should start
first" until the running one goes; then it takes over from the cursor kept in ZooKeeper.

Each test writes rows while the running server is stopped (scripts/stack.sh stop canal-haN, which
needs the same STACK_DIR as `up`) and ends with the index equal to MariaDB row by row. The stopped
server is started again (as the new standby) whatever the outcome.
"""
import os
import re
import signal
import subprocess
import threading

import itlib
from harness import ENV, CanalEs, TestFailure, check, index_docs, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows

HA_VARS = ("ZK_ADDRESS", "CANAL_HA_ADDRESSES", "CANAL_HA_DESTINATION")
STACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "stack.sh")
CONNECTED = re.compile(r"connected to canal (\S+), subscribed to destination")


# ---------------------------------------------------------------- helpers
def ha_addresses():
    return [a.strip() for a in ENV["CANAL_HA_ADDRESSES"].split(",")]


def service_of(addr):
    addrs = ha_addresses()
    check(addr in addrs, f"{addr} is not one of the HA servers {addrs}")
    return f"canal-ha{addrs.index(addr) + 1}"


def stack(cmd, service):
    p = subprocess.run([STACK, cmd, service], capture_output=True, text=True, env=dict(ENV), timeout=400)
    check(p.returncode == 0, f"scripts/stack.sh {cmd} {service} failed ({p.returncode}): {p.stderr[-1500:]}")
    check(p.stdout == "", f"scripts/stack.sh {cmd} {service} printed on stdout: {p.stdout!r}")


def check_same_stack():
    """stop/start act on the stack of STACK_DIR: it must be the one whose env this run has."""
    p = subprocess.run([STACK, "env"], capture_output=True, text=True, env=dict(ENV), timeout=60)
    want = f"ZK_ADDRESS={ENV['ZK_ADDRESS']}"
    check(p.returncode == 0 and want in p.stdout.splitlines(),
          f"scripts/stack.sh env (STACK_DIR={ENV.get('STACK_DIR', '<repo>/.stack')}) is not the stack of this "
          f"run (no {want}): export STACK_DIR as it was for `up`. {p.stderr[-300:]}")


def stack_dir():
    return ENV.get("STACK_DIR") or os.path.join(os.path.dirname(STACK), "..", ".stack")


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def pid_of(service):
    with open(os.path.join(stack_dir(), f"{service}.pid")) as f:
        return int(f.read().strip())


def connections(es):
    return CONNECTED.findall(es.log_text())


def ha_canal_es(t, address, zookeeper=""):
    """canal-es on destination CANAL_HA_DESTINATION with the given address list (and ZooKeeper)."""
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}, batch_size=64,
                 extra_canal=f"zookeeper = {zookeeper}" if zookeeper else "")
    text = open(es.ini).read()
    addr_line = f"address = {ENV['CANAL_HOST']}:{ENV['CANAL_PORT']}\n"
    dest_line = f"destination = {ENV['CANAL_DESTINATION']}\n"
    check(addr_line in text and dest_line in text, f"unexpected ini text: {text}")
    text = text.replace(addr_line, f"address = {address}\n")
    text = text.replace(dest_line, f"destination = {ENV['CANAL_HA_DESTINATION']}\n")
    with open(es.ini, "w") as f:
        f.write(text)
    return es


class Writer:
    """Inserts, updates and deletes rows of table t in a thread until told to stop."""

    CHUNK = 50

    def __init__(self, t):
        self.t = t
        self.errors = []
        self.done = threading.Event()
        self.chunks = 0
        self.thread = threading.Thread(target=self.run)

    def run(self):
        try:
            while not self.done.is_set() and self.chunks < 400:
                first = self.chunks * self.CHUNK + 1
                sql(f"INSERT INTO `{DB}`.`{self.t}` VALUES {product_rows(first, self.CHUNK)};"
                    f"UPDATE `{DB}`.`{self.t}` SET qty = qty + 1, name = CONCAT(name, '+') "
                    f"WHERE id BETWEEN {first} AND {first + 9};"
                    f"DELETE FROM `{DB}`.`{self.t}` WHERE id BETWEEN {first + 40} AND {first + 44};")
                self.chunks += 1
        except Exception as e:  # reported by the test
            self.errors.append(e)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.done.set()
        self.thread.join(300)
        check(not self.thread.is_alive(), "the writer did not finish")
        check(not self.errors, f"writer failed: {self.errors}")


def fail_over(es, t, writer, first_addr):
    """Stops the running server while rows flow; returns the server canal-es ends on."""
    poll(lambda: len(index_docs(t)) >= 500, 120, "500 documents before the failover")
    stack("stop", service_of(first_addr))
    written_at_stop = writer.chunks
    others = [a for a in ha_addresses() if a != first_addr]
    poll(lambda: any(a in others for a in connections(es)), 120,
         f"canal-es to connect to the standby {others} after {first_addr} stopped")
    # rows written while no server ran the destination, and after the takeover
    poll(lambda: writer.chunks >= written_at_stop + 10, 120, "more rows written after the takeover")
    writer.stop()
    wait_in_sync(t, product_docs(t), timeout=180)
    check(es.alive(), "canal-es exited: " + es.tail())
    last = connections(es)[-1]
    check(last in others, f"canal-es should end on {others}, its last connection was {last}")
    return last


# ---------------------------------------------------------------- tests
def test_ha_follows_zookeeper():
    """zookeeper set, address a dead port: canal-es finds the running server only through ZooKeeper,
    follows it to the standby when it stops, and the index equals MariaDB."""
    check_same_stack()
    t = "ha_zk"
    new_table(t)
    # nothing listens on port 1: every connection must come from the running node in ZooKeeper
    es = ha_canal_es(t, "127.0.0.1:1", zookeeper=ENV["ZK_ADDRESS"]).start()
    writer = Writer(t)
    stopped = None
    try:
        poll(lambda: connections(es), 90, "canal-es to connect through ZooKeeper")
        first = connections(es)[0]
        check(first in ha_addresses(), f"connected to {first}, not to an HA server {ha_addresses()}")
        check(f"runs on {first}" in es.log_text(), "the running server must be logged as read from ZooKeeper")
        writer.start()
        stopped = service_of(first)
        last = fail_over(es, t, writer, first)
        log = es.log_text()
        check(f"runs on {last}" in log, f"ZooKeeper should have named {last}: {es.tail(30)}")
        check("127.0.0.1:1" not in connections(es), "canal-es connected to the dead fallback address")
    except BaseException as e:
        writer.done.set()
        es.stop()
        if isinstance(e, TestFailure):
            raise TestFailure(f"{e}\ncanal-es log:\n{es.tail(40)}")
        raise
    finally:
        if stopped:
            stack("start", stopped)
    check(es.stop() == 0, "canal-es did not exit 0 on SIGTERM: " + es.tail())


def test_ha_address_list_without_zookeeper():
    """No zookeeper, address = both servers: the standby's "should start first" sends canal-es on to
    the running one; after that one stops, canal-es ends on the other and the index equals MariaDB."""
    check_same_stack()
    t = "ha_list"
    new_table(t)
    es = ha_canal_es(t, ENV["CANAL_HA_ADDRESSES"]).start()
    writer = Writer(t)
    stopped = None
    try:
        poll(lambda: connections(es), 90, "canal-es to connect to the running server")
        first = connections(es)[0]
        writer.start()
        stopped = service_of(first)
        fail_over(es, t, writer, first)
        check("should start first" in es.log_text(),
              "the standby must have answered \"should start first\" while it was not running the destination")
    except BaseException as e:
        writer.done.set()
        es.stop()
        if isinstance(e, TestFailure):
            raise TestFailure(f"{e}\ncanal-es log:\n{es.tail(40)}")
        raise
    finally:
        if stopped:
            stack("start", stopped)
    check(es.stop() == 0, "canal-es did not exit 0 on SIGTERM: " + es.tail())


def test_ha_zookeeper_watch_leaves_a_zombie_server():
    """The running server freezes (SIGSTOP) until its ZooKeeper session expires and the standby takes
    over, then resumes still serving the destination (Canal does not stop a server that lost its
    running node). canal-es, connected to it, must notice the watch and move to the new running server."""
    check_same_stack()
    t = "ha_watch"
    new_table(t)
    es = ha_canal_es(t, "127.0.0.1:1", zookeeper=ENV["ZK_ADDRESS"]).start()
    stopped = frozen = None
    try:
        poll(lambda: connections(es), 90, "canal-es to connect through ZooKeeper")
        first = connections(es)[0]
        other = [a for a in ha_addresses() if a != first][0]
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 100)};")
        wait_in_sync(t, product_docs(t))
        other_log = os.path.join(stack_dir(), f"{service_of(other)}.log")
        became_active = lambda: read_text(other_log).count("canal-stack: active for destination")
        before = became_active()
        frozen = pid_of(service_of(first))
        os.kill(frozen, signal.SIGSTOP)
        stopped = service_of(first)  # restarted below whatever happens: it runs the destination too now
        # session timeout (<= 10 s) + the standby's delay (5 s); canal-es's GET waits on the frozen
        # server meanwhile (its read timeout is fetch_timeout_ms + 30 s)
        poll(lambda: became_active() > before, 60, f"{other} to take over while {first} is frozen")
        os.kill(frozen, signal.SIGCONT)
        frozen = None
        poll(lambda: other in connections(es), 90, f"canal-es to move to {other}")
        check("as the running server now" in es.log_text(),
              "canal-es should have left the zombie because ZooKeeper named another server")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(101, 100)};"
            f"UPDATE `{DB}`.`{t}` SET qty = 7 WHERE id <= 150; DELETE FROM `{DB}`.`{t}` WHERE id > 180;")
        wait_in_sync(t, product_docs(t), timeout=120)
        check(connections(es)[-1] == other, f"canal-es should stay on {other}: {connections(es)}")
    except BaseException as e:
        es.stop()
        if isinstance(e, TestFailure):
            raise TestFailure(f"{e}\ncanal-es log:\n{es.tail(40)}")
        raise
    finally:
        if frozen:
            os.kill(frozen, signal.SIGCONT)
        if stopped:  # the zombie still runs the destination: make it a plain standby again
            stack("stop", stopped)
            stack("start", stopped)
    check(es.stop() == 0, "canal-es did not exit 0 on SIGTERM: " + es.tail())


if all(ENV.get(v) for v in HA_VARS):
    TESTS = [test_ha_follows_zookeeper, test_ha_address_list_without_zookeeper,
             test_ha_zookeeper_watch_leaves_a_zombie_server]
else:
    TESTS = []
    print(f"t_ha: HA tests not run: {', '.join(v for v in HA_VARS if not ENV.get(v))} not set "
          f"(start the stack with STACK_HA=1)", flush=True)
