"""Shared pieces of the benchmarks (bench/*.py): canal-es with the DEFAULT configuration (only the keys the
stack needs, plus what the caller asks for), the process figures read from /proc, and canal-es' own
counters from its last stats line."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from harness import ENV, CanalEs  # noqa: E402


def parse_extra(items):
    """['section.key=value', ...] -> {section: [(key, value), ...]} (order kept)."""
    out = {}
    for it in items or []:
        if "=" not in it or "." not in it.split("=", 1)[0]:
            raise SystemExit(f"--config-extra {it!r}: expected section.key=value")
        name, value = it.split("=", 1)
        section, key = name.split(".", 1)
        out.setdefault(section.strip(), []).append((key.strip(), value.strip()))
    return out


def extra_value(extra, section, key):
    for k, v in extra.get(section, []):
        if k == key:
            return v
    return None


def default_canal_es(binary, tables, concurrency=None, extra=None, kafka_group=None):
    """A CanalEs whose INI holds only the connection keys, the table rules, [elasticsearch] concurrency
    when given and the extra keys: every other setting is canal-es' default (harness.CanalEs sets
    batch_size and fetch_timeout_ms for the tests; a benchmark of the defaults must not).
    With kafka_group the source is [kafka] (the stack's brokers and topic, group_id = kafka_group)
    instead of [canal]; extra keys of the other source's section are left out."""
    extra = dict(extra or {})
    es = CanalEs(binary, tables)
    if kafka_group is None:
        extra.pop("kafka", None)
        source = ("canal", [("address", f"{ENV['CANAL_HOST']}:{ENV['CANAL_PORT']}"),
                            ("destination", ENV["CANAL_DESTINATION"]),
                            ("username", ENV["CANAL_USER"]),
                            ("password", "${IT_CANAL_PASSWORD}")])
    else:
        extra.pop("canal", None)
        source = ("kafka", [("brokers", ENV["KAFKA_BROKERS"]), ("topic", ENV["KAFKA_TOPIC"]),
                            ("group_id", kafka_group)])
    sections = {
        source[0]: list(source[1]),
        "elasticsearch": [("url", ENV["ES_URL"])],
    }
    if concurrency is not None:
        sections["elasticsearch"].append(("concurrency", str(concurrency)))
    for section, kvs in extra.items():
        sections.setdefault(section, []).extend(kvs)
    lines = []
    for section, kvs in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {v}" for k, v in kvs]
        lines.append("")
    for name, t in tables.items():
        lines.append(f"[table {name}]")
        lines += [f"{k} = {v}" for k, v in t.items()]
        lines.append("")
    with open(es.ini, "w") as f:
        f.write("\n".join(lines))
    return es


def cpu_seconds(pid):
    """utime + stime of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid):
    """VmHWM of a live process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def last_stats(log_text):
    """The counters of canal-es' last stats line (it logs one when it stops) as {name: number}."""
    lines = [ln for ln in log_text.splitlines() if "bulk_requests=" in ln]
    if not lines:
        return {}
    return {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", lines[-1])}
