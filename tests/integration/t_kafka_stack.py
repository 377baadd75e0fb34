"""The Kafka test stack (scripts/stack.sh with STACK_MQ=kafka): Canal's MQ mode writes the rows of
MariaDB to the topic KAFKA_TOPIC as protobuf records, partitioned by primary key.

No canal-es here: this checks the stack itself and what its records look like (docs/kafka.md), by
reading the topic back with kcat. Runs only when KAFKA_BROKERS, KAFKA_TOPIC and KAFKA_PARTITIONS are set.
Also runnable on its own:  python3 tests/integration/t_kafka_stack.py  (with the stack's env exported).
"""
import collections
import re
import time

from harness import ENV, TestFailure, check, poll, sql
from itlib import DB
from kafkalib import WireError, decode_record, end_offsets, kafka_env_missing, read_records

BINLOG_NAME = re.compile(r"^mysql-bin\.\d{6}$")


def _collect(start, table):
    """Decodes every record since `start`; returns (records, our entries as (partition, offset, entry))."""
    records, ours = [], []
    for part, offset, value in read_records(start):
        check(value is not None, f"partition {part} offset {offset}: null record value")
        try:
            rec = decode_record(value)
        except WireError as e:
            raise TestFailure(f"partition {part} offset {offset}: not a Canal protobuf Packet{{MESSAGES}}: {e} "
                              f"(first bytes {value[:16].hex()}); is canal.mq.flatMessage=false?")
        records.append((part, offset, rec))
        for e in rec["entries"]:
            if e["schema"] == DB and e["table"] == table:
                ours.append((part, offset, e))
    return records, ours


def test_kafka_stack_records():
    """INSERT (multi-row and single), UPDATE of 10 rows, DELETE, read back from the 6-partition topic:
    every record is a Packet{MESSAGES} whose entries carry binlog coordinates; rows spread over several
    partitions, one row per entry, each key on one partition, the CREATE TABLE on partition 0."""
    t = "kafka_stack"
    nparts = int(ENV["KAFKA_PARTITIONS"])
    start = end_offsets()
    sql(f"CREATE TABLE `{DB}`.`{t}` (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(40) NOT NULL);")
    values = ", ".join(f"({i}, 'row {i}')" for i in range(1, 61))
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES {values};")
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (61, 'row 61');")
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (62, 'row 62');")
    sql(f"UPDATE `{DB}`.`{t}` SET v = CONCAT(v, '+') WHERE id BETWEEN 1 AND 10;")
    sql(f"DELETE FROM `{DB}`.`{t}` WHERE id = 61;")
    want = {("INSERT", i) for i in range(1, 63)} | {("UPDATE", i) for i in range(1, 11)} | {("DELETE", 61)}

    state = {}

    def all_there():
        records, ours = _collect(start, t)
        seen = set()
        ddl = False
        for _, _, e in ours:
            rc = e["row_change"]
            if rc is None:
                continue
            if rc["is_ddl"]:
                ddl = True
                continue
            for row in rc["rows"]:
                cols = row["before"] if rc["event_type"] == "DELETE" else row["after"]
                pk = [c["value"] for c in cols if c["is_key"]]
                if pk:
                    seen.add((rc["event_type"], int(pk[0])))
        state.update(records=records, ours=ours, seen=seen, ddl=ddl)
        return ddl and want <= seen

    try:
        poll(all_there, 90, "every change of the table on the Kafka topic", interval=0.5)
    except TestFailure as e:
        missing = sorted(want - state.get("seen", set()))[:10]
        raise TestFailure(f"{e}; DDL seen {state.get('ddl')}, missing changes (first 10) {missing}")
    records, ours = state["records"], state["ours"]

    # every record (ours and any other table's): coordinates on every entry
    batch_ids = collections.Counter(rec["batch_id"] for _, _, rec in records)
    for part, offset, rec in records:
        check(rec["entries"], f"partition {part} offset {offset}: a MESSAGES packet without entries")
        for e in rec["entries"]:
            check(BINLOG_NAME.match(e["logfile_name"]) is not None,
                  f"partition {part} offset {offset}: entry header logfileName {e['logfile_name']!r}")
            check(e["logfile_offset"] > 0, f"partition {part} offset {offset}: logfileOffset {e['logfile_offset']}")

    # our table: the DDL on partition 0, one row per entry, begin/end dropped, each key on one partition
    parts_of = collections.defaultdict(set)
    per_change = collections.Counter()
    for part, offset, e in ours:
        check(e["entry_type"] == "ROWDATA", f"partition {part} offset {offset}: {e['entry_type']} entry of {t}")
        rc = e["row_change"]
        if rc["is_ddl"]:
            check(part == 0, f"the CREATE TABLE came on partition {part}, not 0")
            continue
        check(len(rc["rows"]) == 1, f"partition {part} offset {offset}: an entry with {len(rc['rows'])} rows "
                                    f"(partitionHash splits events into one entry per row)")
        row = rc["rows"][0]
        cols = row["before"] if rc["event_type"] == "DELETE" else row["after"]
        byname = {c["name"]: c["value"] for c in cols}
        pk = int(byname["id"])
        parts_of[pk].add(part)
        per_change[(rc["event_type"], pk, e["logfile_name"], e["logfile_offset"])] += 1
        if rc["event_type"] == "INSERT":
            check(byname["v"] == f"row {pk}", f"insert of id {pk}: v {byname['v']!r}")
        elif rc["event_type"] == "UPDATE":
            check(byname["v"] == f"row {pk}+", f"update of id {pk}: after image v {byname['v']!r}")
            before = {c["name"]: c["value"] for c in row["before"]}
            check(before.get("v") == f"row {pk}", f"update of id {pk}: before image v {before.get('v')!r}")
    moved = {pk: sorted(p) for pk, p in parts_of.items() if len(p) > 1}
    check(not moved, f"changes of one key on several partitions (key hashing): {dict(list(moved.items())[:5])}")
    used = sorted({p for ps in parts_of.values() for p in ps})
    check(len(used) >= 3, f"62 keys landed on partitions {used} of {nparts}: expected several")

    # per partition, the entries of our table follow the binlog (a multi-row event shares one offset)
    last = {}
    for part, offset, e in ours:
        pos = (e["logfile_name"], e["logfile_offset"])
        check(pos >= last.get(part, ("", 0)), f"partition {part} offset {offset}: binlog position {pos} "
                                              f"before {last.get(part)}")
        last[part] = pos

    dups = sum(n - 1 for n in per_change.values() if n > 1)
    ours_records = {(p, o) for p, o, _ in ours}
    per_record = collections.Counter((p, o) for p, o, _ in ours)
    print(f"t_kafka_stack: {len(records)} records since the start offsets, {len(ours_records)} with rows of {t}; "
          f"partitions used {used}; entries per record max {max(per_record.values())}; "
          f"batch_id values {dict(batch_ids)}; repeated changes {dups}", flush=True)


if kafka_env_missing():
    TESTS = []
    print(f"t_kafka_stack: Kafka tests not run: {', '.join(kafka_env_missing())} not set "
          f"(start the stack with STACK_MQ=kafka)", flush=True)
else:
    TESTS = [test_kafka_stack_records]


if __name__ == "__main__":
    import sys
    if not TESTS:
        sys.exit(0)
    sql(f"CREATE DATABASE IF NOT EXISTS `{DB}` DEFAULT CHARACTER SET utf8mb4;")
    t0 = time.monotonic()
    test_kafka_stack_records()
    print(f"PASS test_kafka_stack_records ({time.monotonic() - t0:.1f}s)")
