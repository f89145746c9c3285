"""Perfetto / Chrome trace JSON from a run's SQLite trace store.

    python3 -m ksim.perfetto runs/orders-7.db orders-7.json     # or: ksim report RUN.db --perfetto OUT.json

Open the JSON in https://ui.perfetto.dev (or chrome://tracing). Tracks:
  * one process per node (brokers, controllers, clients), named;
  * client operations as slices on their client's track (sends from invoke to
    acknowledgement, with outcome and offset), polls and commits as instants;
  * faults and heals as instants on the node they hit; elections and ISR
    changes as instants on the "cluster" track;
  * counters per partition: ISR size, high watermark, leader;
  * flows from each send to the first poll that delivered its record.
Needs only the standard library (sqlite3, json): ksim itself is not required.
"""
import json
import sqlite3
import sys

CLUSTER_PID = 0


def _us(ms):
    return int(round(float(ms) * 1000))


def to_perfetto(db_path):
    con = sqlite3.connect(db_path)
    events = []
    names = {CLUSTER_PID: "cluster"}
    brokers = int(dict(con.execute("select key, value from run")).get("brokers", "0"))
    for b in range(1, brokers + 1):
        names[b] = f"broker {b}"

    sends = {}
    for (op_id, client, client_name, typ, invoke, complete, outcome, error, topic, partition, value, offset,
         detail, group_id) in con.execute(
            "select id, client, client_name, type, invoke_ms, complete_ms, outcome, error, topic, partition, value, "
            "offset, detail, group_id from ops order by id"):
        names.setdefault(client, client_name)
        args = {"outcome": outcome, "topic": topic, "partition": partition}
        if typ == "send":
            end = complete if complete is not None and complete >= 0 else invoke
            args.update({"value": value, "offset": offset, "error": error})
            events.append({"name": f"send {value}", "cat": "client", "ph": "X", "pid": client, "tid": 1,
                           "ts": _us(invoke), "dur": max(1, _us(end) - _us(invoke)), "args": args})
            if outcome == "ok":
                sends.setdefault(value, (op_id, client, end))
        else:
            args.update({"detail": detail, "group": group_id})
            events.append({"name": typ + (f" ({detail})" if detail else ""), "cat": "client", "ph": "i", "s": "t",
                           "pid": client, "tid": 1, "ts": _us(invoke), "args": args})

    flow = 0
    delivered = set()
    for (op_id, value, topic, partition, offset, at, client) in con.execute(
            "select p.op_id, p.value, p.topic, p.partition, p.offset, o.invoke_ms, o.client "
            "from polled_records p join ops o on o.id = p.op_id order by p.op_id"):
        if value in delivered or value not in sends:
            continue
        delivered.add(value)
        flow += 1
        _, producer, sent_at = sends[value]
        events.append({"name": "delivery", "cat": "flow", "ph": "s", "id": flow, "pid": producer, "tid": 1,
                       "ts": _us(sent_at)})
        events.append({"name": "delivery", "cat": "flow", "ph": "f", "bp": "e", "id": flow, "pid": client, "tid": 1,
                       "ts": _us(at), "args": {"topic": topic, "partition": partition, "offset": offset}})

    for (at, typ, node, topic, partition, epoch, unclean, isr, what) in con.execute(
            "select at_ms, type, node, topic, partition, leader_epoch, unclean, isr, what from events order by rowid"):
        if typ in ("fault", "heal"):
            pid = node if node is not None and node >= 0 else CLUSTER_PID
            events.append({"name": what, "cat": typ, "ph": "i", "s": "p", "pid": pid, "tid": 0, "ts": _us(at)})
        else:
            label = f"{topic}-{partition}: " + (
                f"leader {node} epoch {epoch}" + (" (UNCLEAN)" if unclean else "") if typ == "election"
                else f"ISR {{{isr}}}")
            events.append({"name": label, "cat": typ, "ph": "i", "s": "p", "pid": CLUSTER_PID, "tid": 0,
                           "ts": _us(at)})

    for (at, topic, partition, leader, isr, hw) in con.execute(
            "select at_ms, topic, partition, leader, isr, high_watermark from partition_states order by rowid"):
        if topic.startswith("__"):
            continue
        size = len([x for x in (isr or "").split(",") if x])
        events.append({"name": f"{topic}-{partition}", "cat": "partition", "ph": "C", "pid": CLUSTER_PID,
                       "ts": _us(at), "args": {"isr_size": size, "high_watermark": hw, "leader": leader}})

    for pid, name in sorted(names.items()):
        events.append({"name": "process_name", "ph": "M", "pid": pid, "args": {"name": name}})
        events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": dict(con.execute("select key, value from run where key in ('seed', 'trace_hash')"))}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python3 -m ksim.perfetto RUN.db OUT.json", file=sys.stderr)
        return 2
    try:
        trace = to_perfetto(argv[0])
    except sqlite3.DatabaseError as e:
        print(f"ksim perfetto: {argv[0]} is not a ksim run file: {e}", file=sys.stderr)
        return 2
    try:
        with open(argv[1], "w") as f:
            json.dump(trace, f)
    except OSError as e:
        print(f"ksim perfetto: cannot write {argv[1]}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"perfetto trace: {argv[1]} ({len(trace['traceEvents'])} events) — open it in https://ui.perfetto.dev")
    return 0


if __name__ == "__main__":
    sys.exit(main())
