"""[canal] zookeeper pointing at a ZooKeeper that answers getData with a lying data length (negative, or
0x7ffffff0 with a short frame). libzookeeper-mt 3.8 crashes on such a reply whatever its caller does; canal-es
must survive it, log a WARN and sync through the [canal] address list. A real ZooKeeper cannot be made to send
these replies: fakezk.py stands in for a broken or hostile ensemble."""
import re

import itlib
from fakezk import FakeZk
from harness import CanalEs, check, poll, sql, wait_in_sync
from itlib import DB, new_table, product_docs, product_rows


def hostile(mode):
    t = f"zkhostile_{mode}"
    new_table(t)
    zk = FakeZk(mode, b'{"active":true,"address":"127.0.0.1:1"}').start()
    es = CanalEs(itlib.BIN, {f"{DB}.{t}": {"index": t}}, extra_canal=f"zookeeper = 127.0.0.1:{zk.port}")
    es.start()
    try:
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(1, 20)};")
        poll(lambda: zk.getdata_served >= 1 or not es.alive(), 60, "canal-es to read the running node")
        wait_in_sync(t, product_docs(t))
        check(es.alive(), f"canal-es must survive the reply; log:\n{es.tail()}")
        log = es.log_text()
        warn = [ln for ln in log.splitlines() if "WARN" in ln and "trying the address list" in ln]
        check(warn, f"a WARN must say the address list is used; log:\n{es.tail()}")
        check(re.search(r"reader process killed by signal 11", log),
              f"the WARN must say what happened to the ZooKeeper reader; log:\n{es.tail()}")
        sql(f"INSERT INTO `{DB}`.`{t}` VALUES {product_rows(21, 5)};")
        wait_in_sync(t, product_docs(t))
        check(es.alive(), f"canal-es must still run; log:\n{es.tail()}")
        rc = es.stop()
        check(rc == 0, f"clean stop, rc {rc}; log:\n{es.tail()}")
    finally:
        es.stop()
        zk.stop()


def test_zk_negative_data_length():
    hostile("negative")


def test_zk_data_length_beyond_the_frame():
    hostile("huge")


TESTS = [test_zk_negative_data_length, test_zk_data_length_beyond_the_frame]
