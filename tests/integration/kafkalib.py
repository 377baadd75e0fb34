"""Kafka helpers of the integration tests (stack started with STACK_MQ=kafka).

Records are read with kcat (Debian `kcat`, installed by scripts/bootstrap.sh when STACK_MQ=kafka) and
decoded here with a small protobuf wire-format reader: Canal's protobuf mode writes one
Packet{type MESSAGES, body Messages{batch_id, repeated bytes messages}} per record (the TCP protocol's
packet without its 4-byte length prefix), and every `messages` item is an Entry (proto/entry_protocol.proto).
Only the fields the tests look at are decoded; field numbers are those of proto/*.proto.
"""
import re
import shutil
import subprocess

from harness import ENV, TestFailure, check

KAFKA_VARS = ("KAFKA_BROKERS", "KAFKA_TOPIC", "KAFKA_PARTITIONS")

PACKET_MESSAGES = 7
ENTRY_TYPES = {0: "COMPATIBLE_PROTO2", 1: "TRANSACTIONBEGIN", 2: "ROWDATA", 3: "TRANSACTIONEND",
               4: "HEARTBEAT", 5: "GTIDLOG"}
EVENT_TYPES = {1: "INSERT", 2: "UPDATE", 3: "DELETE", 4: "CREATE", 5: "ALTER", 6: "ERASE", 7: "QUERY",
               8: "TRUNCATE", 9: "RENAME", 10: "CINDEX", 11: "DINDEX", 12: "GTID"}


def kafka_env_missing():
    """Names of the Kafka variables the environment lacks (empty: the stack runs Kafka)."""
    return [v for v in KAFKA_VARS if not ENV.get(v)]


# ---------------------------------------------------------------- protobuf wire format
class WireError(ValueError):
    pass


def _varint(buf, i):
    shift = value = 0
    while True:
        if i >= len(buf):
            raise WireError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def fields(buf):
    """[(field number, wire type, value)] of one message: ints for varints, bytes for length-delimited."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise WireError("field number 0")
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise WireError(f"field {num}: length {n} past the end")
            v, i = bytes(buf[i:i + n]), i + n
        elif wt == 1:
            v, i = bytes(buf[i:i + 8]), i + 8
        elif wt == 5:
            v, i = bytes(buf[i:i + 4]), i + 4
        else:
            raise WireError(f"field {num}: wire type {wt}")
        if i > len(buf):
            raise WireError(f"field {num}: truncated")
        out.append((num, wt, v))
    return out


def _first(fs, num, default=None):
    for n, _, v in fs:
        if n == num:
            return v
    return default


def _all(fs, num):
    return [v for n, _, v in fs if n == num]


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_column(buf):
    fs = fields(buf)
    return {"name": _first(fs, 3, b"").decode(errors="replace"), "is_key": bool(_first(fs, 4, 0)),
            "is_null": bool(_first(fs, 6, 0)), "value": _first(fs, 8, b"").decode(errors="replace")}


def decode_row_change(buf):
    fs = fields(buf)
    rows = []
    for rd in _all(fs, 12):
        rfs = fields(rd)
        rows.append({"before": [decode_column(c) for c in _all(rfs, 1)],
                     "after": [decode_column(c) for c in _all(rfs, 2)]})
    return {"event_type": EVENT_TYPES.get(_first(fs, 2, 2), str(_first(fs, 2, 2))),
            "is_ddl": bool(_first(fs, 10, 0)), "sql": _first(fs, 11, b"").decode(errors="replace"),
            "rows": rows}


def decode_entry(buf):
    """An Entry: header (binlog coordinates, schema, table, event type), entry type, row change."""
    fs = fields(buf)
    h = fields(_first(fs, 1, b""))
    et = _first(fs, 2, 2)
    entry = {
        "logfile_name": _first(h, 2, b"").decode(errors="replace"),
        "logfile_offset": _signed(_first(h, 3, 0)),
        "server_id": _first(h, 4, 0),
        "execute_time": _first(h, 6, 0),
        "schema": _first(h, 8, b"").decode(errors="replace"),
        "table": _first(h, 9, b"").decode(errors="replace"),
        "event_length": _first(h, 10, 0),
        "event_type": EVENT_TYPES.get(_first(h, 11, 2), str(_first(h, 11, 2))),
        "entry_type": ENTRY_TYPES.get(et, str(et)),
        "row_change": None,
    }
    if et == 2:
        entry["row_change"] = decode_row_change(_first(fs, 3, b""))
    return entry


def decode_record(value):
    """A record value of Canal's protobuf mode -> {packet_type, version, batch_id, entries}.
    Raises WireError when it is not a Packet of type MESSAGES (e.g. a flat JSON record)."""
    fs = fields(value)
    ptype = _first(fs, 3, 0)
    if ptype != PACKET_MESSAGES:
        raise WireError(f"packet type {ptype}, not MESSAGES ({PACKET_MESSAGES})")
    if _first(fs, 4, 1) not in (0, 1):
        raise WireError(f"compressed packet (compression {_first(fs, 4)})")
    body = fields(_first(fs, 5, b""))
    return {"packet_type": ptype, "version": _first(fs, 2, 1), "batch_id": _signed(_first(body, 1, 0)),
            "entries": [decode_entry(e) for e in _all(body, 2)]}


# ---------------------------------------------------------------- kcat
def kcat():
    path = shutil.which("kcat") or shutil.which("kafkacat")
    check(path is not None, "kcat not found: run scripts/bootstrap.sh with STACK_MQ=kafka (Debian package kcat)")
    return path


def end_offsets(topic=None, partitions=None):
    """{partition: next offset} (the log end) of every partition of the topic."""
    topic = topic or ENV["KAFKA_TOPIC"]
    n = int(partitions or ENV["KAFKA_PARTITIONS"])
    cmd = [kcat(), "-b", ENV["KAFKA_BROKERS"], "-Q"]
    for p in range(n):
        cmd += ["-t", f"{topic}:{p}:-1"]
    r = subprocess.run(cmd, capture_output=True, timeout=60)
    check(r.returncode == 0, f"kcat -Q failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}")
    got = {}
    for line in r.stdout.decode().splitlines():
        m = re.match(r"^\S+ \[(\d+)\] offset (-?\d+)$", line.strip())
        if m:
            got[int(m.group(1))] = int(m.group(2))
    check(sorted(got) == list(range(n)), f"kcat -Q answered for partitions {sorted(got)}, not 0..{n - 1}: {r.stdout!r}")
    return got


def read_records(start, topic=None):
    """Every record from the offsets in `start` ({partition: offset}) to the current end:
    [(partition, offset, value bytes)], in partition then offset order."""
    topic = topic or ENV["KAFKA_TOPIC"]
    out = []
    for p, off in sorted(start.items()):
        # header line "partition offset value-length", then exactly that many value bytes and a newline
        r = subprocess.run([kcat(), "-b", ENV["KAFKA_BROKERS"], "-C", "-t", topic, "-p", str(p), "-o", str(off),
                            "-e", "-q", "-f", "%p %o %S\n%s\n"], capture_output=True, timeout=120)
        check(r.returncode == 0, f"kcat -C partition {p} failed ({r.returncode}): "
                                 f"{r.stderr.decode(errors='replace')[-500:]}")
        buf, i = r.stdout, 0
        while i < len(buf):
            nl = buf.index(b"\n", i)
            part, offset, size = (int(x) for x in buf[i:nl].split())
            null = size < 0  # a null value: kcat prints length -1 and no bytes
            size = max(size, 0)
            value = None if null else buf[nl + 1:nl + 1 + size]
            if len(buf[nl + 1:nl + 1 + size]) != size or buf[nl + 1 + size:nl + 2 + size] != b"\n":
                raise TestFailure(f"kcat output of partition {p} cut at offset {offset}")
            out.append((part, offset, value))
            i = nl + 2 + size
    return out

