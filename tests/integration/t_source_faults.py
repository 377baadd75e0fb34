"""Source faults a real Canal server cannot be made to show, against fakecanal.FakeCanal:
a server that answers every GET with an error, one that closes right after subscribe, one
that never answers a GET or never sends its handshake, a connect that hangs, and a batch
frame above [canal] max_frame_mb.

canal-es must back off between reconnects (one log line per attempt, the backoff reset only
by a delivered batch), honour SIGTERM at once while it holds no batch (connect, handshake,
GET), and report an oversized frame with its size, the cap and the fix, counted, then exit 1
after a few attempts instead of reconnecting forever. The search node is the real one (the
fake servers deliver no rows, so nothing is written to it).
"""
import re
import signal
import time

import itlib
from fakecanal import GET, FakeCanal, self_test
from harness import ENV, CanalEs, TestFailure, check, poll

WINDOW_S = 4.0       # a storm is counted over this long after the first connection
MAX_IN_WINDOW = 10   # default backoff (200 ms doubling to 10 s, full jitter): ~6 expected
STOP_BOUND_S = 3.0   # SIGTERM with no batch in hand: exit 0 within this, whatever shutdown_timeout_ms says


def fake_es(fake, canal=None, es=None):
    """canal-es pointed at the fake server; `canal` / `es`: extra keys of [canal] / [elasticsearch]."""
    self_test()
    es_run = CanalEs(itlib.BIN, {f"{itlib.DB}.srcfaults": {"index": "srcfaults"}})
    text = open(es_run.ini).read()
    addr_line = f"address = {ENV['CANAL_HOST']}:{ENV['CANAL_PORT']}\n"
    check(addr_line in text and "fetch_timeout_ms = 200\n" in text, f"unexpected ini text: {text}")
    canal = dict({"fetch_timeout_ms": 200}, **(canal or {}))
    text = text.replace(addr_line, f"address = {fake.address}\n").replace(
        "fetch_timeout_ms = 200\n", "".join(f"{k} = {v}\n" for k, v in canal.items()))
    text = text.replace("[elasticsearch]\n", "[elasticsearch]\n" + "".join(f"{k} = {v}\n"
                                                                           for k, v in (es or {}).items()))
    with open(es_run.ini, "w") as f:
        f.write(text)
    return es_run.start()


def storm_count(fake, es):
    """Connections within WINDOW_S of the first one (measured over that window)."""
    first = poll(fake.connections, 30, "a first connection to the fake server")[0]
    poll(lambda: time.monotonic() >= first + WINDOW_S or not es.alive(), WINDOW_S + 5, "the counting window")
    check(es.alive(), "canal-es exited: " + es.tail())
    return len([t for t in fake.connections() if t < first + WINDOW_S])


def check_fake(fake):
    errs = fake.errors()
    check(not errs, f"the fake server itself failed: {errs}")


def stop_within(es, bound, what):
    t0 = time.monotonic()
    es.proc.send_signal(signal.SIGTERM)
    try:
        rc = es.proc.wait(timeout=bound + 30)
    except Exception:
        es.proc.kill()
        es.proc.wait(30)
        raise TestFailure(f"{what}: canal-es did not exit within {bound + 30:.0f}s of SIGTERM: {es.tail()}")
    took = time.monotonic() - t0
    check(rc == 0, f"{what}: exit status {rc} after SIGTERM: {es.tail()}")
    check(took <= bound, f"{what}: exit came {took:.1f}s after SIGTERM (bound {bound}s): {es.tail()}")
    return took


def storm_test(mode, what):
    fake = FakeCanal(mode)
    es = fake_es(fake)
    try:
        n = storm_count(fake, es)
        check(2 <= n <= MAX_IN_WINDOW, f"{what}: {n} connections in {WINDOW_S}s (want 2..{MAX_IN_WINDOW}): "
                                       f"{es.tail(12)}")
        stop_within(es, STOP_BOUND_S, what)
        check_fake(fake)
    finally:
        if es.alive():
            es.proc.kill()
        fake.close()
    log = es.log_text().splitlines()
    attempts = [ln for ln in log if re.search(r"reconnecting in \d+ ms \(attempt \d+\)", ln)]
    conns = len(fake.connections())
    check(attempts, f"{what}: no 'reconnecting in N ms (attempt K)' line: {es.tail(12)}")
    # one line per attempt: the reconnect line with its delay; no second line per connection
    noisy = [ln for ln in log if "connected to canal" in ln]
    check(len(noisy) <= 1, f"{what}: {len(noisy)} 'connected' lines for {conns} useless connections: "
                           f"{noisy[:3]}")
    check(len(log) <= conns + 12, f"{what}: {len(log)} log lines for {conns} connections: {es.tail(12)}")
    return attempts


def test_source_get_error_backs_off():
    """Every GET answered by an error Ack: reconnects back off (<= 10 in 4 s), one log line per attempt."""
    attempts = storm_test("get_error", "GET error")
    check("batchId:5 is not the firstly:4" in attempts[0] and "\tat " not in attempts[0],
          f"the server's error is named, without its stack trace: {attempts[0]}")


def test_source_close_after_subscribe_backs_off():
    """The server closes right after subscribe: a working subscribe does not reset the backoff."""
    storm_test("close_after_sub", "close after subscribe")


def test_source_sigterm_during_silent_get():
    """fetch_timeout_ms = 10000, shutdown_timeout_ms = 2000, a GET the server never answers:
    SIGTERM exits 0 within 3 s (no batch in hand: the GET is abandoned)."""
    fake = FakeCanal("get_silent")
    es = fake_es(fake, canal={"fetch_timeout_ms": 10000}, es={"shutdown_timeout_ms": 2000})
    try:
        check(fake.wait_packet(GET, 30), "no GET reached the fake server: " + es.tail())
        stop_within(es, STOP_BOUND_S, "SIGTERM during a silent GET")
        check(len(fake.connections()) == 1, f"one connection expected, got {len(fake.connections())}")
        check_fake(fake)
    finally:
        if es.alive():
            es.proc.kill()
        fake.close()


def test_source_sigterm_during_silent_handshake():
    """The server accepts and never sends its handshake: SIGTERM exits 0 within 3 s."""
    fake = FakeCanal("handshake_silent")
    es = fake_es(fake, canal={"fetch_timeout_ms": 10000}, es={"shutdown_timeout_ms": 2000})
    try:
        poll(fake.connections, 30, "the connection to the fake server")
        stop_within(es, STOP_BOUND_S, "SIGTERM during a silent handshake")
        check_fake(fake)
    finally:
        if es.alive():
            es.proc.kill()
        fake.close()


def syn_sent_to(port):
    """True when a socket of this network namespace is in SYN_SENT towards 127.0.0.1:port."""
    want = "0100007F:%04X" % port
    for path in ("/proc/net/tcp",):
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                parts = line.split()
                if parts[2] == want and parts[3] == "02":
                    return True
    return False


def test_source_sigterm_during_connect():
    """A connect that hangs (the server's accept queue is full): SIGTERM exits 0 within 3 s."""
    fake = FakeCanal("blackhole")
    es = fake_es(fake, canal={"fetch_timeout_ms": 10000}, es={"shutdown_timeout_ms": 2000})
    try:
        port = int(fake.address.rsplit(":", 1)[1])
        poll(lambda: syn_sent_to(port), 30, "canal-es to be connecting (SYN_SENT)", interval=0.05)
        stop_within(es, STOP_BOUND_S, "SIGTERM during connect")
    finally:
        if es.alive():
            es.proc.kill()
        fake.close()


def test_source_oversized_frame():
    """A batch frame above [canal] max_frame_mb: a distinct error naming the size, the cap and the fix,
    counted (frames_too_big), with backoff between attempts, then exit 1 (not a reconnect loop)."""
    fake = FakeCanal("oversize", frame_bytes=3 << 19)  # 1.5 MiB
    es = fake_es(fake, canal={"max_frame_mb": 1})
    try:
        rc = es.wait_exit(60)
        check_fake(fake)
    finally:
        if es.alive():
            es.proc.kill()
        fake.close()
    log = es.log_text()
    check(rc == 1, f"exit status {rc}, want 1: {es.tail(12)}")
    m = re.search(r"frame of (\d+) bytes exceeds the cap of 1048576 bytes \(\[canal\] max_frame_mb = 1\)", log)
    check(m and int(m.group(1)) > 3 << 19, f"the error names the frame size and the cap: {es.tail(12)}")
    check("batch_size" in log, f"the error says what to do (lower batch_size / raise the cap): {es.tail(12)}")
    conns = fake.connections()
    check(len(conns) == 3, f"3 attempts expected, got {len(conns)}: {es.tail(12)}")
    check(re.search(r"frames_too_big=3\b", log), f"the stats line counts the frames: {es.tail(6)}")
    check(re.search(r"giving up", log), f"the last error says canal-es gives up: {es.tail(6)}")
    waits = re.findall(r"frame of \d+ bytes exceeds.*reconnecting in \d+ ms \(attempt \d+\)", log)
    check(len(waits) == 2, f"a backoff wait between the 3 attempts: {waits}")


TESTS = [
    test_source_get_error_backs_off,
    test_source_close_after_subscribe_backs_off,
    test_source_sigterm_during_silent_get,
    test_source_sigterm_during_silent_handshake,
    test_source_sigterm_during_connect,
    test_source_oversized_frame,
]
