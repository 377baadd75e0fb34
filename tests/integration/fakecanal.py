"""A fake Canal server, for the source faults a real Canal server cannot be made to show.

It speaks Canal's framing (4-byte big-endian length, then a Packet protobuf, hand-encoded
below: no protobuf package is needed) and plays the conversation as far as its `mode` says:

    blackhole         never accepts: its accept queue is full, so a connect hangs (SYN dropped)
    handshake_silent  accepts the connection and never sends the HANDSHAKE
    close_after_sub   handshake, auth and subscribe answered, then the connection is closed
    get_error         every GET answered by an error Ack ("batchId:5 is not the firstly:4")
    get_silent        every GET is read and never answered
    get_empty         every GET answered at once with an empty batch (batch id -1)
    oversize          every GET answered by a MESSAGES frame of `frame_bytes` (a real Packet)

    f = FakeCanal("get_error")
    f.address                  # "127.0.0.1:PORT", for [canal] address
    f.connections()            # monotonic times of accepted connections
    f.packets()                # (time, packet type) of every packet received, all connections
    f.wait_packet(6, 10)       # waits for a GET (type 6) to arrive
    f.errors()                 # exceptions of the server threads (a test checks it is empty)
    f.close()

encode_* / decode_fields are small protobuf helpers (varint, length-delimited) also used by
tests/fuzz/make_packet_corpus.py to write the seed corpus of the packet fuzzer.
"""
import os
import socket
import struct
import threading
import time

__all__ = ["FakeCanal", "packet", "frame", "messages", "ack", "handshake", "entry", "row_change", "column",
           "decode_fields", "self_test"]

# PacketType
HANDSHAKE, CLIENTAUTHENTICATION, ACK, SUBSCRIPTION, UNSUBSCRIPTION, GET, MESSAGES, CLIENTACK = 1, 2, 3, 4, 5, 6, 7, 8
CLIENTROLLBACK = 12
MODES = ("blackhole", "handshake_silent", "close_after_sub", "get_error", "get_silent", "get_empty", "oversize")


# ---------------------------------------------------------------- protobuf, by hand
def varint(n):
    if n < 0:
        n += 1 << 64  # int32/int64 negatives are 10-byte two's complement
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, n):
    return varint(field << 3) + varint(n)


def f_bytes(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def decode_fields(buf):
    """[(field, wire type, value)] of one message: ints for varints, bytes for length-delimited."""
    out, i = [], 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _read_varint(buf, i)
        elif wt == 2:
            n, i = _read_varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
            if i > len(buf):
                raise ValueError("length-delimited field past the end")
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wt}")
        out.append((field, wt, v))
    return out


def _read_varint(buf, i):
    n = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


# Canal messages (field numbers: /work/shared/design/canal-protocol.md)
def packet(ptype, body=b"", version=True):
    """Packet{version 1 (unless version=False, as the server's fast path), type, body}."""
    return (f_varint(2, 1) if version else b"") + f_varint(3, ptype) + (f_bytes(5, body) if body else b"")


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def handshake(seeds):
    return f_bytes(2, seeds)


def ack(code=0, message=""):
    return (f_varint(1, code) if code else b"") + (f_bytes(2, message) if message else b"")


def messages(batch_id, entries=()):
    return f_varint(1, batch_id) + b"".join(f_bytes(2, e) for e in entries)


def column(index, name, value, mysql_type="int(11)", sql_type=4, is_key=False, updated=False, is_null=None):
    out = f_varint(1, index) + f_varint(2, sql_type) + f_bytes(3, name)
    if is_key:
        out += f_varint(4, 1)
    if updated:
        out += f_varint(5, 1)
    if is_null is not None:
        out += f_varint(6, 1 if is_null else 0)
    if value is not None:
        out += f_bytes(8, value)
    return out + f_bytes(10, mysql_type)


def row_change(event_type, rows=(), is_ddl=None, sql=None):
    """rows: [(before columns, after columns)], each a list of column() bytes."""
    out = f_varint(2, event_type)
    if is_ddl is not None:
        out += f_varint(10, 1 if is_ddl else 0)
    if sql is not None:
        out += f_bytes(11, sql)
    for before, after in rows:
        out += f_bytes(12, b"".join(f_bytes(1, c) for c in before) + b"".join(f_bytes(2, c) for c in after))
    return out


def entry(entry_type, schema="db", table="t", event_type=None, store_value=b"", logfile="mysql-bin.000001",
          offset=4, execute_time=1700000000000, gtid=None):
    header = f_bytes(2, logfile) + f_varint(3, offset) + f_varint(6, execute_time) + f_bytes(8, schema) + \
        f_bytes(9, table)
    if event_type is not None:
        header += f_varint(11, event_type)
    if gtid is not None:
        header += f_bytes(13, gtid)
    return f_bytes(1, header) + f_varint(2, entry_type) + (f_bytes(3, store_value) if store_value else b"")


def packet_type(payload):
    for field, wt, v in decode_fields(payload):
        if field == 3 and wt == 0:
            return v
    return 0


# ---------------------------------------------------------------- the server
class FakeCanal:
    def __init__(self, mode, frame_bytes=2 << 20):
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode = mode
        self.frame_bytes = frame_bytes
        self._lock = threading.Lock()
        self._conns = []
        self._packets = []
        self._errors = []
        self._socks = []
        self._closed = False
        self._ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ls.bind(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._ls.getsockname()[1]
        if mode == "blackhole":
            # backlog 0 holds one connection that is never accepted: the filler below; the
            # kernel then drops the SYNs of every further connect
            self._ls.listen(0)
            filler = socket.create_connection(self._ls.getsockname(), timeout=5)
            self._socks.append(filler)
            return
        self._ls.listen(64)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    # -------- what the test reads
    def connections(self):
        with self._lock:
            return list(self._conns)

    def packets(self):
        with self._lock:
            return list(self._packets)

    def errors(self):
        with self._lock:
            return list(self._errors)

    def wait_packet(self, ptype, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(t == ptype for _, t in self.packets()):
                return True
            time.sleep(0.05)  # poll interval, bounded by the deadline
        return False

    def close(self):
        self._closed = True
        try:
            self._ls.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    # -------- serving
    def _accept(self):
        while not self._closed:
            try:
                s, _ = self._ls.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(time.monotonic())
                self._socks.append(s)
            threading.Thread(target=self._serve_safe, args=(s,), daemon=True).start()

    def _serve_safe(self, s):
        try:
            self._serve(s)
        except (ConnectionError, BrokenPipeError, socket.timeout, EOFError):
            pass  # the client went away: what these faults provoke
        except OSError as e:
            if not self._closed:
                with self._lock:
                    self._errors.append(repr(e))
        except Exception as e:  # reported through errors()
            with self._lock:
                self._errors.append(repr(e))
        finally:
            try:
                s.close()
            except OSError:
                pass

    def _read_exact(self, s, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)

    def _read_packet(self, s):
        n = struct.unpack(">I", self._read_exact(s, 4))[0]
        if n > 1 << 20:
            raise ValueError(f"client sent a {n}-byte frame")
        ptype = packet_type(self._read_exact(s, n))
        with self._lock:
            self._packets.append((time.monotonic(), ptype))
        return ptype

    def _send(self, s, ptype, body=b""):
        s.sendall(frame(packet(ptype, body, version=ptype != MESSAGES)))

    def _hold(self, s):
        """Keeps the connection open, reading (and recording) what comes, sending nothing."""
        while not self._closed:
            self._read_packet(s)

    def _serve(self, s):
        if self.mode == "handshake_silent":
            return self._hold(s)
        self._send(s, HANDSHAKE, handshake(os.urandom(8)))
        if self._read_packet(s) != CLIENTAUTHENTICATION:
            raise ValueError("expected CLIENTAUTHENTICATION")
        self._send(s, ACK, ack())
        if self._read_packet(s) != SUBSCRIPTION:
            raise ValueError("expected SUBSCRIPTION")
        self._send(s, ACK, ack())
        if self.mode == "close_after_sub":
            self._read_packet(s)  # the client's CLIENTROLLBACK: its connect worked; close before the GET
            return
        while not self._closed:
            t = self._read_packet(s)
            if t in (CLIENTROLLBACK, CLIENTACK):
                continue  # no reply on success
            if t != GET:
                self._send(s, ACK, ack(400, f"packet type {t} is not supported"))
                continue
            if self.mode == "get_error":
                self._send(s, ACK, ack(400, "something goes wrong with channel:[id: 0x1], exception="
                                            "com.alibaba.otter.canal.server.exception.CanalServerException: "
                                            "batchId:5 is not the firstly:4\n\tat com.alibaba.otter..."))
            elif self.mode == "get_silent":
                return self._hold(s)
            elif self.mode == "get_empty":
                self._send(s, MESSAGES, messages(-1))
            else:  # oversize: a real MESSAGES packet of about frame_bytes
                e = entry(2, event_type=1, store_value=row_change(1, [([], [column(0, "id", "1", is_key=True),
                          column(1, "blob", "x" * self.frame_bytes, "longblob", 2004)])]))
                self._send(s, MESSAGES, messages(7, [e]))


def self_test():
    """The encoder against hand-checked bytes and the decoder against the encoder."""
    assert varint(1) == b"\x01" and varint(300) == b"\xac\x02"
    assert varint(-1) == b"\xff" * 9 + b"\x01"
    assert packet(ACK, ack(400, "x")) == b"\x10\x01\x18\x03\x2a\x06\x08\x90\x03\x12\x01x"
    assert packet_type(packet(MESSAGES, messages(-1), version=False)) == MESSAGES
    fields = decode_fields(messages(3, [b"ab", b""]))
    assert fields == [(1, 0, 3), (2, 2, b"ab"), (2, 2, b"")], fields
    assert frame(b"abc") == b"\x00\x00\x00\x03abc"


if __name__ == "__main__":
    self_test()
    print("fakecanal self_test: ok")
