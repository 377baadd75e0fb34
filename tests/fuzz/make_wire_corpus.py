#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_wire into tests/fuzz/corpus/wire/ (or the directory given).

fuzz_wire reads every input both as one Entry and as a Messages body (no door byte): the seeds
are the Entry and Messages seeds of make_packet_corpus.py without their door byte, and a few
inputs at the edges where protobuf-c's behaviour is particular (a Header given twice, bool
fields of other wire types, unknown fields of every wire type, a 5-byte length prefix).
Run it again after changing it; the files are committed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from fakecanal import column, entry, f_bytes, f_varint, messages, row_change  # noqa: E402
from make_packet_corpus import ROWDATA, INSERT, seeds as packet_seeds  # noqa: E402


def seeds():
    out = {}
    for name, data in packet_seeds().items():
        if name.startswith("entry_") or name.startswith("messages_"):
            out[name] = data[1:]
    header = f_bytes(2, b"mysql-bin.000002") + f_varint(3, 77) + f_varint(1, 1) + f_varint(7, 2) + f_varint(11, 1)
    rc = row_change(INSERT, [([], [column(0, "id", "1", "bigint(20)", -5, is_key=True)])])
    out["entry_two_headers"] = f_bytes(1, header) + f_bytes(1, f_bytes(8, b"db") + f_bytes(9, b"t")) + f_varint(
        2, ROWDATA) + f_bytes(3, rc)
    # Column: is_key (4) as a 32-bit field, updated (5) as bytes, is_null (6) as 64-bit
    col = f_bytes(3, b"id") + f_bytes(8, b"7") + b"\x25\x00\x00\x00\x01" + f_bytes(5, b"\x00") + \
        b"\x31" + b"\x00" * 8
    out["entry_bool_wire_types"] = entry(ROWDATA, event_type=INSERT, store_value=f_varint(2, INSERT) + f_bytes(
        12, f_bytes(2, col)))
    unknown = f_varint(90, 5) + b"\xd1\x05" + b"\x01" * 8 + f_bytes(92, b"xyz") + b"\xe5\x05" + b"\x02" * 4
    out["entry_unknown_fields"] = entry(ROWDATA, event_type=INSERT, store_value=rc) + unknown
    out["entry_long_length"] = b"\x1a\x85\x80\x80\x80\x00" + rc[:5]
    out["messages_empty_entries"] = messages(3, [b"", entry(ROWDATA, store_value=rc), b""])
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                             "corpus", "wire")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds())} seeds to {out}")


if __name__ == "__main__":
    main()
