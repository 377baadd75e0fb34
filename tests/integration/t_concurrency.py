"""[elasticsearch] concurrency: bulk requests in flight at once, through the fault proxy in front of the real
node. Actions on one document always travel in the same request stream, so order per document holds even with
versioning = off."""
import time

from harness import check, sql
from itlib import DB, product_rows
from t_faults import FAST_RETRY, Rig


def test_concurrency_parallel_requests_keep_per_document_order():
    """concurrency = 4 with versioning = off: a batch goes out as up to 4 requests at once (seen overlapping at
    the proxy while each is held 0.5 s); each _id stays in one stream; per-item 429s are retried; the index ends
    equal to MariaDB after inserts, repeated updates of the same rows and deletes in one transaction."""
    rig = Rig("conc", dict(FAST_RETRY, concurrency=4, versioning="off", bulk_max_actions=50), batch_size=4000)
    try:
        rig.proxy.delay(0.5, count=4)
        rig.proxy.item_429(ids={"7", "77", "177"}, count=1)
        stmts = ["BEGIN;", f"INSERT INTO `{DB}`.`conc` VALUES {product_rows(1, 400)};"]
        for k in range(5):  # the same rows change five times: the last value must win
            stmts.append(f"UPDATE `{DB}`.`conc` SET qty = {k}, name = CONCAT('v{k} ', id) WHERE id % 3 = 0;")
        stmts += [f"DELETE FROM `{DB}`.`conc` WHERE id % 10 = 0;", "COMMIT;"]
        t0 = time.monotonic()
        sql("\n".join(stmts))
        rig.sync(timeout=90)
        recs = [r for r in rig.proxy.bulk_records() if r.time >= t0]
        held = [r for r in recs if r.fault == "delay"]
        check(len(held) == 4, f"four requests held: {rig.describe()}")
        spread = max(r.time for r in held) - min(r.time for r in held)
        check(spread < 0.45, f"the held requests must have been in flight together (arrivals {spread:.2f} s apart)")
        # one stream per _id: an id's actions are never in two requests that overlapped in time
        streams = {}
        for r in held:
            for i in set(r.ids()):
                streams.setdefault(i, []).append(r)
        check(all(len(v) == 1 for v in streams.values()), "an _id was in two concurrent requests")
        rig.check_proxy()
        rig.stop()
    except BaseException:
        rig.abort()
        raise


TESTS = [test_concurrency_parallel_requests_keep_per_document_order]
