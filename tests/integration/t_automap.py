"""mapping = auto (the default): with the README's minimal configuration and no mapping file, a missing index
is created from the column types Canal reports. Every edge value of every MySQL type is indexed (nothing
dead-lettered, nothing halted), DECIMAL ranges and sorts are numeric, DATETIME(6) ranges work, tables of a
regex rule share one index with the union of their columns, a type clash between two tables is reported, an
existing index is left as it is and check-config names the fields of an existing index that cannot hold
what canal-es sends."""
import json
import re
import subprocess

import itlib
from harness import (CanalEs, TestFailure, check, delete_index, http, index_docs, node_has_type, poll, sql,
                     wait_in_sync)
from itlib import DB, new_table


def is_opensearch():
    _, info = http("GET", "/")
    return info.get("version", {}).get("distribution") == "opensearch"


def ulong_type():
    """unsigned_long where the node has it (not the embedded Elasticsearch 7.17/8: no x-pack), else keyword."""
    return "unsigned_long" if node_has_type("unsigned_long") else "keyword"


def decimal_type():
    """scaled_float where the node has it (not the embedded Elasticsearch 8: no mapper-extras), else double."""
    return "scaled_float" if node_has_type("scaled_float") else "double"


def decimal_scaling():
    """The scaling_factor a DECIMAL(p,2) field has: 100 as scaled_float, none as double."""
    return 100.0 if decimal_type() == "scaled_float" else None


def props_of(index):
    _, m = http("GET", f"/{index}/_mapping")
    return next(iter(m.values()))["mappings"].get("properties", {})


def test_automap_every_type_default_config():
    """The every-type table (edge values: BIGINT UNSIGNED 18446744073709551615, DECIMAL(65,30), BIT(64),
    DATETIME(6), zero dates, JSON, binary) into an index canal-es creates itself: every document arrives
    exactly, the service keeps running (on_error = halt by default) and the index has the derived types."""
    from run import ALLTYPES_DDL, ALLTYPES_EXPECTED, ALLTYPES_ROWS
    t = "auto_alltypes"
    new_table(t, ALLTYPES_DDL)
    delete_index(t)
    # j holds [1, 2, {...}]: no object mapping takes an array of numbers and objects, hence flatten
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t, "convert": "bin:base64, vb:base64, bt:base64, j:json",
                                          "flatten": "j"}})
    es.start()
    try:
        sql(ALLTYPES_ROWS.replace("{db}", DB).replace("{t}", t))
        sql(f"INSERT INTO `{DB}`.`{t}` (id) VALUES (4);")  # a later row: the service did not halt
        got = {}

        def arrived():
            got.update(index_docs(t))
            return len(got) == 4 or not es.alive()
        try:
            poll(arrived, 60, "4 documents")
        except TestFailure as e:
            raise TestFailure(f"{e}; canal-es log: {es.tail(10)}")
        check(es.alive(), "canal-es halted: " + es.tail(10))
        for k, exp in ALLTYPES_EXPECTED.items():
            diffs = [f"{c}: expected {exp[c]!r} got {got[k].get(c, '<missing>')!r}"
                     for c in exp if got[k].get(c, "<missing>") != exp[c]]
            check(not diffs, f"row {k}: " + "; ".join(diffs))
        props = props_of(t)
        ulong = ulong_type()
        want = {"id": "integer", "ti": "byte", "tiu": "short", "si": "short", "siu": "integer", "mi": "integer",
                "i": "integer", "iu": "long", "bi": "long", "biu": ulong, "dec65": "double",
                "d2": decimal_type(), "f": "float", "dbl": "double", "b1": "byte", "b64": ulong, "y": "short",
                "dt": "date", "dtm": "date", "ts": "date", "tm": "keyword", "c": "text", "vc": "text",
                "tx": "text", "e": "keyword", "st": "keyword", "bin": "binary", "vb": "binary",
                "bl": "text", "bt": "binary", "j": "flat_object" if is_opensearch() else "flattened"}
        types = {k: v.get("type", "object") for k, v in props.items()}
        check(all(types.get(k) == v for k, v in want.items()),
              f"derived types: {[(k, types.get(k), v) for k, v in want.items() if types.get(k) != v]}")
        check(props["d2"].get("scaling_factor") == decimal_scaling()
              and props["dtm"]["format"] == "strict_date_optional_time",
              f"details: {props['d2']} {props['dtm']}")
        check(f"created index {t} from the column types of {DB}.{t}" in es.log_text(), "logged: " + es.tail())
        check("rejected" not in es.log_text() and "dead" not in es.log_text(), "nothing rejected: " + es.tail())
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


PRICE_DDL = """CREATE TABLE `{db}`.`{t}` (
  id INT NOT NULL PRIMARY KEY, price DECIMAL(10,2) NOT NULL, seen DATETIME(6) NOT NULL, name VARCHAR(40)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def test_automap_decimal_range_and_sort_are_numeric():
    """DECIMAL(10,2) prices: `price >= 10` finds 10.00 and 100.50 (not 9.99), a sort by price is numeric
    (9.99 before 10.00); a date range on DATETIME(6) with a fraction and timezone = +08:00 finds exactly the
    row inside it; _source keeps the exact digits."""
    t = "auto_prices"
    new_table(t, PRICE_DDL)
    delete_index(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}, defaults={"timezone": "+08:00"}).start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1, 9.99, '2024-01-01 00:00:00.000001', 'a'), "
            f"(2, 10.00, '2024-01-01 00:00:00.500000', 'b'), (3, 100.50, '2024-01-01 00:00:01', 'c'), "
            f"(4, 2.5, '2023-12-31 23:59:59.999999', 'd');")
        poll(lambda: len(index_docs(t)) == 4 or not es.alive(), 60, "4 documents")
        check(es.alive(), "canal-es halted: " + es.tail(10))
        _, r = http("POST", f"/{t}/_search", {"query": {"range": {"price": {"gte": 10}}}, "sort": [{"price": "asc"}]})
        check([h["_id"] for h in r["hits"]["hits"]] == ["2", "3"], f"price >= 10: {r['hits']['hits']}")
        _, r = http("POST", f"/{t}/_search", {"sort": [{"price": "asc"}], "size": 10})
        check([h["_source"]["price"] for h in r["hits"]["hits"]] == ["2.50", "9.99", "10.00", "100.50"],
              f"numeric sort, exact _source: {[h['_source'] for h in r['hits']['hits']]}")
        _, r = http("POST", f"/{t}/_search", {"query": {"range": {"seen": {
            "gt": "2024-01-01T00:00:00.100+08:00", "lt": "2024-01-01T00:00:01+08:00"}}}})
        check([h["_id"] for h in r["hits"]["hits"]] == ["2"], f"DATETIME(6) range: {r['hits']['hits']}")
        _, doc = http("GET", f"/{t}/_doc/1")
        check(doc["_source"]["seen"] == "2024-01-01T00:00:00.000001+08:00", f"sent with offset: {doc}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


SHARD_A = """CREATE TABLE `{db}`.`{t}` (
  id INT NOT NULL PRIMARY KEY, price DECIMAL(8,2), a_only BIGINT UNSIGNED, code VARCHAR(10)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
SHARD_B = """CREATE TABLE `{db}`.`{t}` (
  id INT NOT NULL PRIMARY KEY, price DECIMAL(8,2), b_only DATE, code VARCHAR(10)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
SHARD_C = """CREATE TABLE `{db}`.`{t}` (
  id INT NOT NULL PRIMARY KEY, price DECIMAL(8,2), code INT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""


def test_automap_regex_tables_share_one_index():
    """[table /DB\\.autoshard_[ab]/] into one index: the first table creates it, the second adds its own
    columns (the mapping is the union); a column added by ALTER TABLE is added with its derived type."""
    index = "auto-shards"
    delete_index(index)
    for t, ddl in (("autoshard_a", SHARD_A), ("autoshard_b", SHARD_B)):
        new_table(t, ddl)
    rules = {f"/{DB}\\.autoshard_[ab]/": {"index": index, "id_prefix": "{table}:"}}
    es = CanalEs(itlib.BIN, rules).start()
    try:
        sql(f"INSERT INTO `{DB}`.`autoshard_a` VALUES (1, 1.50, 18446744073709551615, 'x');")
        poll(lambda: len(index_docs(index)) == 1 or not es.alive(), 60, "the first document")
        sql(f"INSERT INTO `{DB}`.`autoshard_b` VALUES (1, 2.50, '2024-02-29', 'y');")
        poll(lambda: len(index_docs(index)) == 2 or not es.alive(), 60, "the second document")
        check(es.alive(), "canal-es halted: " + es.tail(10))
        props = props_of(index)
        types = {k: v.get("type") for k, v in props.items()}
        ulong = ulong_type()
        check(types == {"id": "integer", "price": decimal_type(), "a_only": ulong, "code": "text",
                        "b_only": "date"}, f"union of the columns: {types}")
        _, m = http("GET", f"/{index}/_mapping")
        check(next(iter(m.values()))["mappings"]["_meta"] == {"canal_es_mapping": "auto"}, f"_meta: {m}")
        check(f"added 1 field(s) of {DB}.autoshard_b" in es.log_text(), "extension logged: " + es.tail())
        # a column added later is mapped from its type as well
        sql(f"ALTER TABLE `{DB}`.`autoshard_a` ADD COLUMN extra DECIMAL(6,2);"
            f"INSERT INTO `{DB}`.`autoshard_a` VALUES (2, 3.50, 1, 'z', 12.25);")
        poll(lambda: len(index_docs(index)) == 3 or not es.alive(), 60, "the third document")
        extra = props_of(index).get("extra", {})
        check(extra.get("type") == decimal_type() and extra.get("scaling_factor") == decimal_scaling(),
              f"the added column: {extra}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def test_automap_type_clash_between_tables_is_reported():
    """Two tables into one index whose `code` columns need different types (VARCHAR → text, INT → integer):
    the second table's clash is logged once with both columns and both types; its rows are still sent."""
    index = "auto-clash"
    delete_index(index)
    for t, ddl in (("autoclash_b", SHARD_B), ("autoclash_c", SHARD_C)):
        new_table(t, ddl)
    rules = {f"/{DB}\\.autoclash_[bc]/": {"index": index, "id_prefix": "{table}:"}}
    es = CanalEs(itlib.BIN, rules).start()
    try:
        sql(f"INSERT INTO `{DB}`.`autoclash_b` VALUES (1, 2.50, '2024-02-29', 'y');")
        poll(lambda: len(index_docs(index)) == 1 or not es.alive(), 60, "the first document")
        sql(f"INSERT INTO `{DB}`.`autoclash_c` VALUES (1, 3.50, 42), (2, 4.50, 43);")
        poll(lambda: len(index_docs(index)) == 3 or not es.alive(), 60, "the other documents")
        check(es.alive(), "canal-es halted: " + es.tail(10))
        log = es.log_text()
        pat = (rf"index {index}: field code is mapped text \(from column {DB}\.autoclash_b\.code \(varchar\(10\)\)\), "
               rf"but column {DB}\.autoclash_c\.code \(int\(11\)\) would need integer")
        check(len(re.findall(pat, log)) == 1, f"the clash is reported once with both types: {es.tail(10)}")
        check(props_of(index)["code"]["type"] == "text", "the first type is kept")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


EXISTING_DDL = """CREATE TABLE `{db}`.`{t}` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, seen DATETIME(6), price DECIMAL(10,2), name VARCHAR(20)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
EXISTING_MAPPING = {"mappings": {"properties": {
    "id": {"type": "long"}, "seen": {"type": "date", "format": "yyyy-MM-dd HH:mm:ss"},
    "price": {"type": "keyword"}, "name": {"type": "keyword"}}}}


def test_automap_existing_index_untouched_and_checked():
    """An index that exists before the first write is never changed by mapping = auto; check-config, with a
    change of the table waiting in Canal, names each field that cannot hold what canal-es sends (long for
    BIGINT UNSIGNED, a date format without the fraction) with the column and the fix (`--peek`)."""
    t = "auto_existing"
    new_table(t, EXISTING_DDL)
    delete_index(t)
    http("PUT", f"/{t}", EXISTING_MAPPING)
    before = props_of(t)
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}})
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1, NULL, 1.00, 'a');")
    p = subprocess.run([itlib.BIN, "check-config", "-c", es.ini, "--peek"], capture_output=True, text=True,
                       env=es.env, timeout=120)
    out = p.stdout
    check(re.search(rf"^warn\s+table {DB}\.{t} \(line \d+\): index {t} field id \(column {DB}\.{t}\.id "
                    rf"bigint\(20\) unsigned\): long cannot hold every value of bigint\(20\) unsigned, "
                    rf"e\.g\. 18446744073709551615 \(fix: unsigned_long", out, re.M)
          and re.search(rf"^warn\s+table .*field seen \(column {DB}\.{t}\.seen datetime\(6\)\): format "
                        rf"yyyy-MM-dd HH:mm:ss does not accept .*\(fix: format strict_date_optional_time\)",
                        out, re.M)
          and not re.search(r"field (price|name) ", out)
          and re.search(rf"^ok\s+table {DB}\.{t} .*exists \(its fields compared", out, re.M),
          f"check-config verdicts: {p.returncode}\n{out}{p.stderr}")
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES (2, NULL, 2.00, 'b');")
        poll(lambda: len(index_docs(t)) == 2 or not es.alive(), 60, "2 documents")
        check(props_of(t) == before, f"the existing mapping is unchanged: {props_of(t)} vs {before}")
        check("created index" not in es.log_text() and "added" not in es.log_text(), "nothing created: " + es.tail())
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


def test_automap_mapping_command_prints_what_auto_creates():
    """`canal-es mapping --table` prints exactly the mappings `mapping = auto` then creates (the node's
    normalized form of both compared), routing and flatten included."""
    t = "auto_printed"
    new_table(t, """CREATE TABLE `{db}`.`{t}` (
      id INT NOT NULL PRIMARY KEY, shop INT NOT NULL, amount DECIMAL(12,3), doc LONGTEXT, meta LONGTEXT,
      at TIMESTAMP(3) NULL, gone VARCHAR(5)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""")
    delete_index(t)
    rules = {f"{DB}.{t}": {"index": t, "routing": "shop", "convert": "doc:json, meta:json", "flatten": "meta",
                           "exclude": "gone", "delete": "soft:deleted"}}
    es = CanalEs(itlib.BIN, rules)
    sql(f"INSERT INTO `{DB}`.`{t}` VALUES (1, 7, 1.250, '{{\"k\": 1}}', '{{\"free\": {{\"x\": 1}}}}', NULL, 'g');")
    p = subprocess.run([itlib.BIN, "mapping", "-c", es.ini, "--table", f"{DB}.{t}", "--timeout", "30"],
                       capture_output=True, text=True, env=es.env, timeout=120)
    check(p.returncode == 0, f"mapping exit {p.returncode}: {p.stderr[-600:]}")
    printed = json.loads(p.stdout)
    # the node's normal form of the printed body: create it under another name, read it back
    http("PUT", f"/{t}-printed", printed)
    _, m = http("GET", f"/{t}-printed/_mapping")
    want = next(iter(m.values()))["mappings"]
    delete_index(f"{t}-printed")
    es.start()
    try:
        wait_in_sync(t, lambda: {"1": {"id": 1, "shop": 7, "amount": "1.250", "doc": {"k": 1},
                                       "meta": {"free": {"x": 1}}, "at": None, "deleted": False}})
        _, m = http("GET", f"/{t}/_mapping")
        got = next(iter(m.values()))["mappings"]
        for m in (got, want):  # the node maps the JSON object's keys as they come (then omits "type": "object")
            m["properties"]["doc"].pop("properties", None)
            m["properties"]["doc"].pop("type", None)
        check(got == want, f"auto created {json.dumps(got)}\nmapping printed {json.dumps(want)}")
        flat = "flat_object" if is_opensearch() else "flattened"
        check(got["_routing"] == {"required": True} and got["properties"]["meta"]["type"] == flat
              and got["properties"]["deleted"]["type"] == "boolean" and "gone" not in got["properties"],
              f"rule shapes the mapping: {got}")
    except BaseException:
        es.stop()
        raise
    check(es.stop() == 0, "canal-es did not exit 0: " + es.tail())


TESTS = [test_automap_every_type_default_config, test_automap_decimal_range_and_sort_are_numeric,
         test_automap_regex_tables_share_one_index, test_automap_type_clash_between_tables_is_reported,
         test_automap_existing_index_untouched_and_checked, test_automap_mapping_command_prints_what_auto_creates]
