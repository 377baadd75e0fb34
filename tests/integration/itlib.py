"""Shared names of the integration tests: the run's database, the binary, the
product table used by most tests. Test modules (t_*.py) use `itlib.BIN` at
call time: run.py sets it before any test runs."""
import re
import time

from harness import delete_index, rows_as_docs, sql

RID = format(int(time.time() * 1000) % 0xFFFFFFFF, "x")  # unique names per run
DB = f"it_{RID}"
BIN = None  # path of the canal-es binary, set by run.py

PRODUCT_DDL = """CREATE TABLE `{db}`.`{t}` (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  qty INT NULL,
  price DECIMAL(10,2) NOT NULL,
  note TEXT NULL,
  created DATETIME NOT NULL,
  flag TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
PRODUCT_INTS = ["id", "qty", "flag"]
PRODUCT_OTHERS = ["name", "price", "note", ("created", "DATE_FORMAT(`created`, '%Y-%m-%dT%H:%i:%s')")]


def product_docs(t):
    return lambda: rows_as_docs(DB, t, PRODUCT_INTS, PRODUCT_OTHERS, ["id"])


def product_rows(first, count, name="item"):
    vals = []
    for i in range(first, first + count):
        note = "NULL" if i % 7 == 0 else f"'备注 {i} \"quoted\" \\\\ back'"
        vals.append(f"({i}, '{name} {i}', {i % 50}, {i}.{i % 100:02d}, {note}, "
                    f"'2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00', {i % 2})")
    return ",".join(vals)


def new_table(t, ddl=PRODUCT_DDL):
    sql(ddl.format(db=DB, t=t) + ";")
    delete_index(t)


def stats_batches(es):
    found = re.findall(r"batches=(\d+)", es.log_text())
    return int(found[-1]) if found else 0


