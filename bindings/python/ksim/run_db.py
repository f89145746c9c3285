"""Reading a run's SQLite trace store (proto/README.md) from Python, for the reports.

    from ksim.run_db import RunDb
    run = RunDb("runs/orders-7.db")          # RunDbError if it is not a ksim run file
    run.info["seed"], run.end_ms, run.node_name(4)
    print(run.describe_topics(at_ms=12_000))  # kafka-topics.sh --describe, as `ksim describe --at`

Standard library only (sqlite3): the HTML report, `ksim consumer-groups` and
anything else reading a run store share this one opening check and these
helpers. The file is opened read-only; nothing here changes it.

Node ids are Kafka's: brokers 1..B, then the dedicated KRaft controllers, then
one node per client (the ops table names each client). The store's `trace`
table numbers nodes from 0 (the kernel's index): node id = index + 1.
"""
import os
import sqlite3
import urllib.parse


def _shown_path(path):
    """A scenario file as the reproduce command names it: relative to the checkout whose ./ksim launcher sits
    next to its folder (scenarios/X.py), else relative to here, else as stored."""
    if not os.path.isabs(path):
        return path
    root = os.path.dirname(os.path.dirname(path))
    if os.path.isfile(os.path.join(root, "ksim")) and os.path.isdir(os.path.join(root, "bindings")):
        return os.path.relpath(path, root)
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


class RunDbError(Exception):
    """Not a readable ksim run store: the message names the file and the problem."""


def split_tp(text):
    """'orders-0' -> ('orders', 0): a topic may itself contain '-', the partition follows the last one."""
    topic, _, part = text.rpartition("-")
    return topic, int(part)


def parse_offsets(text):
    """An ops.offsets field 'orders-0:25,orders-1:-1' -> {('orders', 0): 25, ('orders', 1): -1}."""
    out = {}
    for item in (text or "").split(","):
        if ":" not in item:
            continue
        tp, _, off = item.rpartition(":")
        try:
            out[split_tp(tp)] = int(off)
        except ValueError:
            continue
    return out


def parse_ids(text):
    """'2,1,3' -> [2, 1, 3]."""
    return [int(x) for x in (text or "").split(",") if x.strip().lstrip("-").isdigit()]


def parse_leos(text):
    """A partition_states.log_end_offsets field '2=-1,1=1' -> {2: None, 1: 1} (-1: the replica was down)."""
    out = {}
    for item in (text or "").split(","):
        b, sep, v = item.partition("=")
        if sep and b.strip().lstrip("-").isdigit():
            value = int(v)
            out[int(b)] = None if value < 0 else value
    return out


class RunDb:
    """One run store, opened read-only and checked to be a ksim run file."""

    def __init__(self, path):
        self.path = path
        if not os.path.exists(path):
            raise RunDbError(f"cannot read run file '{path}': no such file")
        if os.path.isdir(path) or not os.access(path, os.R_OK):
            raise RunDbError(f"cannot read run file '{path}'")
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        try:
            self.con = sqlite3.connect(uri, uri=True)
            tables = {n for (n,) in self.con.execute("select name from sqlite_master where type in ('table', 'view')")}
        except sqlite3.DatabaseError as e:
            hint = ": the reports read the SQLite store (sim.export('run.db'))" if path.endswith(".pb") else ""
            raise RunDbError(f"{path} is not a ksim run file (not a readable SQLite database: {e}){hint}") from None
        needed = {"run", "summary", "ops", "events"}
        if not needed <= tables:
            what = " (a sweep database? use ksim sweep --report)" if "runs" in tables else ""
            raise RunDbError(f"{path} is not a ksim run file (no {', '.join(sorted(needed - tables))} "
                             f"table){what}")
        self.tables = tables
        self.info = dict(self.query("select key, value from run"))
        self.end_ms = float(self.info.get("end_ms") or 0.0)
        self.brokers = int(self.info.get("brokers") or 0)
        # 'combined': the first min(3, B) brokers are also the controllers (no node of their own)
        ctl = self.info.get("param:controllers", "0")
        self.controllers = int(ctl) if ctl.isdigit() else 0
        self.client_names = dict(self.query("select distinct client, client_name from ops"))

    def query(self, sql, params=()):
        """Rows of a query; a corrupt file or a missing column is a RunDbError naming the file."""
        try:
            return self.con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as e:
            raise RunDbError(f"{self.path}: unreadable run file ({e})") from None

    def has(self, table):
        return table in self.tables

    # ---- who is who --------------------------------------------------------------------------

    def role(self, node):
        if 1 <= node <= self.brokers:
            return "broker"
        if self.brokers < node <= self.brokers + self.controllers:
            return "controller"
        return "client" if node in self.client_names else "node"

    def node_name(self, node):
        """'broker 2', 'controller 4', 'client billing-1 (node 7)', 'the network' for -1."""
        if node is None or node < 0:
            return "the network"
        role = self.role(node)
        if role == "client":
            return f"client {self.client_names[node]} (node {node})"
        return f"{role} {node}"

    def reproduce(self):
        """The command that replays this run, from what the store says launched it."""
        seed = self.info.get("seed", "?")
        scenario = self.info.get("scenario")
        if scenario == "ksim demo":
            return f"./ksim demo --seed {seed}"
        if scenario:
            return f"./ksim run {_shown_path(scenario)} --seed {seed}"
        return f"(exported by a script with sim.export: run it again with seed {seed})"

    # ---- kafka-topics.sh --describe ----------------------------------------------------------

    def partitions_at(self, at_ms=None):
        """{(topic, partition): {leader, epoch, isr, replicas}} as the elections and ISR changes left it at
        at_ms (the end when None): the same rebuild as `ksim describe --at` (engine/export/run_store.cc)."""
        parts = {}
        rows = self.query("select type, node, topic, partition, leader_epoch, isr, replicas from events "
                          "where type in ('election', 'isr_change') and (? is null or at_ms <= ?) order by rowid",
                          (at_ms, at_ms))
        for typ, node, topic, partition, epoch, isr, replicas in rows:
            st = parts.setdefault((topic, partition), {"leader": -1, "epoch": 0, "isr": "", "replicas": ""})
            if typ == "election":
                st["leader"], st["epoch"] = node, epoch
            st["isr"] = isr or ""
            if replicas:
                st["replicas"] = replicas
        return dict(sorted(parts.items()))

    def describe_topics(self, at_ms=None, include_internal=True):
        """kafka-topics.sh --describe text, byte for byte what `ksim describe RUN.db [--at MS]` prints."""
        parts = self.partitions_at(at_ms)
        if not include_internal:
            parts = {k: v for k, v in parts.items() if not k[0].startswith("__")}
        out = [f"# partitions at t={at_ms:.3f} ms" if at_ms is not None else "# partitions at the end of the run"]
        topic = None
        for (t, p), st in parts.items():
            if t != topic:
                topic = t
                mine = [s for (t2, _), s in parts.items() if t2 == t]
                rf = len(parse_ids(mine[-1]["replicas"]))
                out.append(f"Topic: {t}\tPartitionCount: {len(mine)}\tReplicationFactor: {rf}")
            leader = str(st["leader"]) if st["leader"] >= 0 else "none"
            out.append(f"\tTopic: {t}\tPartition: {p}\tLeader: {leader}\tLeaderEpoch: {st['epoch']}"
                       f"\tReplicas: {st['replicas']}\tIsr: {st['isr']}")
        if not parts:
            out.append("(no partitions yet)")
        return "\n".join(out) + "\n"

    # ---- sampled partition state -------------------------------------------------------------

    def partition_series(self, topic, partition):
        """[(at_ms, leader, epoch, isr list, hw or None, {broker: leo or None})] — the 1 s step samples."""
        if not self.has("partition_states"):
            return []
        rows = self.query("select at_ms, leader, leader_epoch, isr, high_watermark, log_end_offsets "
                          "from partition_states where topic = ? and partition = ? order by at_ms, rowid",
                          (topic, partition))
        return [(float(at), leader, epoch, parse_ids(isr), hw if hw is not None and hw >= 0 else None,
                 parse_leos(leos)) for at, leader, epoch, isr, hw, leos in rows]

    def high_watermark_at(self, topic, partition, at_ms=None):
        """The sampled high watermark at at_ms (the last sample at or before it; the last one when None),
        or None when no sample knew it (the leader down, or no sample yet)."""
        if not self.has("partition_states"):
            return None
        rows = self.query("select high_watermark from partition_states where topic = ? and partition = ? "
                          "and (? is null or at_ms <= ?) order by at_ms desc, rowid desc limit 1",
                          (topic, partition, at_ms, at_ms))
        return rows[0][0] if rows and rows[0][0] is not None and rows[0][0] >= 0 else None

    def final_log_ends(self, topic, partition):
        """{broker: log end offset} of every replica's log at export (the records table)."""
        rows = self.query("select broker, max(last_offset) + 1 from records where topic = ? and partition = ? "
                          "group by broker", (topic, partition)) if self.has("records") else []
        return {b: leo for b, leo in rows}
