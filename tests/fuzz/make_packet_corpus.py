#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_packet into tests/fuzz/corpus/packet/ (or the directory given).

Each file is one fuzz input: a first byte choosing the door (0 a stream of frames, 1 a Messages
body, 2 one Entry; see tests/fuzz/fuzz_packet.c), then the bytes, encoded with the protobuf
helpers of tests/integration/fakecanal.py (the field numbers of canal-protocol.md).
Run it again after changing it; the files are committed.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from fakecanal import (ACK, HANDSHAKE, MESSAGES, ack, column, entry, frame, handshake, messages,  # noqa: E402
                       packet, row_change)

# EntryType / EventType
BEGIN, ROWDATA, END, HEARTBEAT, GTIDLOG = 1, 2, 3, 4, 5
INSERT, UPDATE, DELETE, ERASE, QUERY, TRUNCATE = 1, 2, 3, 6, 7, 8


def cols(i, name, price, note=None, updated=False):
    return [column(0, "id", str(i), "bigint(20)", -5, is_key=True),
            column(1, "name", name, "varchar(100)", 12, updated=updated),
            column(2, "price", price, "decimal(10,2)", 3),
            column(3, "note", note, "text", 2005, is_null=note is None),
            column(4, "bin", "\u00ff\u0000\u0080", "varbinary(16)", -3)]


def seeds():
    ins = entry(ROWDATA, event_type=INSERT, store_value=row_change(
        INSERT, [([], cols(1, "a", "1.50", "备注")), ([], cols(2, "b 😀", "-0.01"))]))
    upd = entry(ROWDATA, store_value=row_change(  # event type absent: UPDATE by default
        UPDATE, [(cols(1, "a", "1.50"), cols(1, "renamed", "1.50", updated=True))]), offset=1234)
    dele = entry(ROWDATA, event_type=DELETE, store_value=row_change(DELETE, [(cols(2, "b", "2.00"), [])]))
    trunc = entry(ROWDATA, event_type=TRUNCATE, store_value=row_change(TRUNCATE, is_ddl=True,
                                                                        sql="TRUNCATE TABLE `t`"))
    drop = entry(ROWDATA, event_type=ERASE, store_value=row_change(ERASE, is_ddl=True, sql="DROP TABLE t\n-- x"))
    query = entry(ROWDATA, event_type=QUERY, store_value=row_change(QUERY, sql="BEGIN"))
    no_after = entry(ROWDATA, event_type=INSERT, store_value=row_change(INSERT, [(cols(3, "c", "3"), [])]))
    begin, end = entry(BEGIN), entry(END)
    gtid = entry(GTIDLOG, gtid="0-1-42")
    hb = entry(HEARTBEAT)
    batch = messages(5, [begin, ins, upd, dele, end])
    return {
        "frames_conversation": b"\x00" + frame(packet(HANDSHAKE, handshake(b"12345678"))) + frame(packet(ACK, ack()))
        + frame(packet(ACK, ack())) + frame(packet(MESSAGES, batch, version=False)),
        "frames_errors": b"\x00" + frame(packet(ACK, ack(400, "auth failed for user:canal"))) + frame(
            packet(ACK, ack(400, "something goes wrong\n\tat com.alibaba")) + b"") + frame(
            packet(ACK, ack(402, "batchId:0 is not valid"))),
        "frames_empty_batch": b"\x00" + frame(packet(MESSAGES, messages(-1), version=False)),
        "frames_ddl": b"\x00" + frame(packet(MESSAGES, messages(9, [gtid, trunc, drop, query, hb]))),
        "frames_truncated": b"\x00" + frame(packet(MESSAGES, batch))[:-7],
        "frames_too_big": b"\x00\x7f\xff\xff\xff" + packet(ACK, ack()),
        "messages_rows": b"\x01" + batch,
        "messages_bad_entry": b"\x01" + messages(6, [no_after, b"\x0a\x20\x01", ins]),
        "entry_insert": b"\x02" + ins,
        "entry_update": b"\x02" + upd,
        "entry_delete": b"\x02" + dele,
        "entry_truncate": b"\x02" + trunc,
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "corpus", "packet")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds())} seeds to {out}")


if __name__ == "__main__":
    main()
