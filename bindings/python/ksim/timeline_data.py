"""The data behind ksim.timeline: a run store read into per-time state the page can scrub.

Everything the browser needs is precomputed here, so that drawing an instant
is a handful of binary searches, never a replay:

  * nodes: brokers, controllers and clients, each with a step function of its
    status (up / down / paused) — from the kernel trace's node_* events, and
    from the history's fault events before the trace window;
  * partitions: a step function of (leader, leader epoch, ISR) from the
    history's elections and ISR changes (exact times); the high watermark as
    a step function (partition_states samples every 1 s, raised by what
    clients saw in between: a poll's fetch HW, an acks=all send's offset);
    every replica's log as *runs* (ksim.timeline_logs: which offsets, which
    epoch, written when, truncated when) and its log end offset as a step
    function;
  * messages: every network message of the trace window as (sent, delivered
    or dropped, src, dst, kind) in columns, sorted by send time
    (ksim.timeline_messages);
  * faults as intervals, the story's events as a list, the checker anomalies.

Times are virtual milliseconds. The step functions are lists of [t, value...]
sorted by t: the value at t is the last entry at or before t.
"""
import bisect
import os
import pathlib
import re
import sqlite3

from . import timeline_logs, timeline_messages

_NAME = re.compile(r"^\s*[\d.]+ ms\s+(\S+)\s")
_ARG = re.compile(r"(\w+)=(\S+)")
MAX_MESSAGES = 150_000  # more than this and the newest are kept (the page says so)


class NotARunStore(Exception):
    """The file is missing, or not a ksim run store."""


def _ids(text):
    return [int(x) for x in (text or "").split(",") if x.strip()]


def _step(changes):
    """Sort and drop repeats: a step function."""
    out = []
    for c in sorted(changes, key=lambda c: c[0]):
        if out and out[-1][1:] == c[1:]:
            continue
        if out and out[-1][0] == c[0]:
            out[-1] = c
        else:
            out.append(c)
    return out


def open_store(path):
    try:
        # Read-only, by URI (percent-encoded: a '#' or '?' in the name is a character).
        con = sqlite3.connect(pathlib.Path(os.path.abspath(path)).as_uri() + "?mode=ro", uri=True)
        con.text_factory = lambda b: b.decode("utf-8", "replace")  # record values may be any bytes
        tables = {r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")}
    except sqlite3.DatabaseError as e:
        raise NotARunStore(f"{path} is not a ksim run store ({e})") from None
    missing = {"run", "events", "records", "trace", "partition_states", "ops", "polled_records", "anomalies"} - tables
    if missing:
        raise NotARunStore(f"{path} is not a ksim run store (no {', '.join(sorted(missing))} table)")
    return con


def load(path):
    """The page's data: a dict of plain lists and numbers (JSON-ready)."""
    con = open_store(path)
    try:
        return _load(con)
    except sqlite3.DatabaseError as e:
        raise NotARunStore(f"{path}: cannot read the run store ({e})") from None
    finally:
        con.close()


def _load(con):
    run = dict(con.execute("select key, value from run"))
    brokers = int(run.get("brokers", "0") or 0)
    end_ms = float(run.get("end_ms", "0") or 0)
    trace_count = con.execute("select count(*) from trace").fetchone()[0]
    window_ns = con.execute("select min(at_ns) from trace").fetchone()[0] or 0
    total_events = int(run.get("events", trace_count) or trace_count)
    window_start = window_ns / 1e6 if total_events > trace_count else 0.0
    if trace_count == 0:
        window_start = end_ms  # no kernel trace kept at all: nothing is replayed

    nodes = _nodes(con, brokers, window_start)
    events, faults = _story(con, {n["id"]: n["label"] for n in nodes})
    _end_outages_at_restart(faults, nodes)
    partitions = _partitions(con, brokers, window_start, end_ms)
    messages, kinds, dropped_messages = timeline_messages.load(con, MAX_MESSAGES)
    anomalies = [
        {"kind": k, "expected": bool(e), "cause": c, "topic": tp, "partition": p, "offsets": _ids(o),
         "records": r, "at": at, "explanation": x}
        for (k, e, c, tp, p, o, r, at, x) in con.execute(
            "select kind, expected, cause, topic, partition, offsets, records, at_ms, explanation "
            "from anomalies order by at_ms")]
    return {
        "meta": {"seed": run.get("seed"), "trace_hash": run.get("trace_hash"), "end": end_ms,
                 "verdict": run.get("verdict", "not checked"), "scenario": run.get("scenario", ""),
                 "brokers": brokers, "window_start": window_start,
                 "trace_events": trace_count, "run_events": total_events,
                 "messages_cut": dropped_messages},
        "nodes": nodes, "partitions": partitions, "messages": messages, "kinds": kinds,
        "events": events, "faults": faults, "anomalies": anomalies,
    }


# ---- nodes ----------------------------------------------------------------------------------

def _nodes(con, brokers, window_start):
    names = {}
    for idx, desc in con.execute("select node, min(description) from trace where node < 4294967295 group by node"):
        m = _NAME.match(desc)
        names[idx] = m.group(1) if m else f"node{idx}"
    for idx in range(brokers):
        names.setdefault(idx, f"broker{idx + 1}")
    nodes = []
    for idx in sorted(names):
        name = names[idx]
        if idx < brokers:
            role, nid, label = "broker", idx + 1, f"broker {idx + 1}"
        elif name.startswith("controller"):
            role, nid, label = "controller", idx + 1, f"controller {idx + 1}"
        else:
            role, nid, label = "client", idx + 1, name
        nodes.append({"idx": idx, "id": nid, "role": role, "label": label, "status": [[0.0, "up"]]})
    by_id = {n["id"]: n for n in nodes}
    by_idx = {n["idx"]: n for n in nodes}
    changes = {n["idx"]: [] for n in nodes}
    # Before the trace window: the history's faults (broker ids).
    for at, typ, node, what in con.execute("select at_ms, type, node, what from events where type in ('fault', 'heal')"):
        if at >= window_start or node is None or node < 0 or node not in by_id:
            continue
        idx = by_id[node]["idx"]
        if what.startswith(("crash", "power_fail", "controlled shutdown")):
            changes[idx].append([at, "down"])
        elif what.startswith("restart"):
            changes[idx].append([at, "up"])
        elif what.startswith("pause"):
            ms = int(_ids(what.split()[1])[0]) if len(what.split()) > 1 else 0
            changes[idx] += [[at, "paused"], [at + ms, "up"]]
    # In the window: the kernel's own record (rolling restarts included).
    for at_ns, idx, kind, desc in con.execute(
            "select at_ns, node, kind, description from trace where kind like 'node_%' order by idx"):
        if idx not in changes:
            continue
        t = at_ns / 1e6
        if kind == "node_start" or kind == "node_resume":
            changes[idx].append([t, "up"])
        elif kind in ("node_crash", "node_power_fail"):
            changes[idx].append([t, "down"])
        elif kind == "node_pause":
            args = dict(_ARG.findall(desc))
            changes[idx].append([t, "paused"])
            if "duration_ns" in args:
                changes[idx].append([t + int(args["duration_ns"]) / 1e6, "up"])
    for idx, ch in changes.items():
        by_idx[idx]["status"] = _step([[0.0, "up"]] + ch)
    return nodes


# ---- the story: events and fault intervals --------------------------------------------------

def _story(con, labels):
    events, faults, open_faults = [], [], {}
    for at, typ, node, topic, part, epoch, unclean, isr, what in con.execute(
            "select at_ms, type, node, topic, partition, leader_epoch, unclean, isr, what from events order by rowid"):
        internal = bool(topic) and topic.startswith("__")
        if typ == "election":
            who = f"broker {node} leads" if node is not None and node >= 0 else "no leader (offline)"
            text = (f"{topic}-{part}: {who}, epoch {epoch}, ISR {{{isr}}}"
                    + (" — UNCLEAN election" if unclean else "") + (" (created)" if what == "created" else ""))
        elif typ == "isr_change":
            text = f"{topic}-{part}: ISR {{{isr}}}"
        elif typ == "leader_change":
            text = f"{topic}-{part}: leader {node} epoch {epoch}"
        else:
            who = labels.get(node, f"node {node}") if node is not None and node >= 0 else "cluster"
            text = f"{typ}: {what} ({who})"
            key = (node, what.split()[0])
            if typ == "fault":
                open_faults.setdefault(key, (at, what))
                if what.startswith("pause"):
                    ms = _ids(what.split()[1])[0] if len(what.split()) > 1 else 0
                    faults.append({"from": at, "to": at + ms, "node": node, "what": what})
                    open_faults.pop(key, None)
            else:
                ends = [k for k in open_faults if _heals(k, node, what)]
                for k in ends:
                    start, name = open_faults.pop(k)
                    faults.append({"from": start, "to": at, "node": k[0], "what": name})
        events.append({"at": at, "type": typ, "text": text, "internal": internal, "node": node,
                       "unclean": bool(unclean)})
    for (node, _), (at, what) in open_faults.items():
        faults.append({"from": at, "to": None, "node": node, "what": what})
    faults.sort(key=lambda f: f["from"])
    return events, faults


OUTAGES = ("crash", "power_fail", "controlled", "wipe")  # faults that end when the node is up again


def _end_outages_at_restart(faults, nodes):
    """A crash, power failure or controlled shutdown lasts until the node is up again
    (a rolling restart starts nodes with no 'restart' event in the history), and so does
    a wipe: the node is down with an empty disk until it restarts."""
    by_id = {n["id"]: n for n in nodes}
    for f in faults:
        n = by_id.get(f["node"])
        if n is None or not f["what"].startswith(OUTAGES):
            continue
        up = next((t for t, st in n["status"] if t > f["from"] and st == "up"), None)
        if up is not None and (f["to"] is None or up < f["to"]):
            f["to"] = up


def _heals(key, node, what):
    fnode, fwhat = key
    if what.startswith("heal phase"):
        return True
    if what == "heal network":
        return fwhat in ("partition", "isolate")
    if what == "restart":
        return fnode == node and fwhat in OUTAGES
    if what.endswith(" off"):
        return fnode == node and fwhat == what.split()[0]
    return False


# ---- partitions: leader, ISR, HW, logs -------------------------------------------------------

def _partitions(con, brokers, window_start, end_ms):
    state = {}  # (topic, partition) -> [[t, leader, epoch, isr]]
    replicas = {}
    for at, typ, node, topic, part, epoch, isr, reps in con.execute(
            "select at_ms, type, node, topic, partition, leader_epoch, isr, replicas from events "
            "where type in ('election', 'leader_change', 'isr_change') order by rowid"):
        tp = (topic, part)
        series = state.setdefault(tp, [])
        last = series[-1] if series else [0, -1, -1, []]
        leader = node if typ != "isr_change" else last[1]
        series.append([at, leader, epoch if epoch is not None and epoch >= 0 else last[2], _ids(isr)])
        if reps:
            replicas[tp] = _ids(reps)
    samples = {}
    for at, topic, part, leader, epoch, isr, hw, leos in con.execute(
            "select at_ms, topic, partition, leader, leader_epoch, isr, high_watermark, log_end_offsets "
            "from partition_states order by rowid"):
        leo = {int(k): int(v) for k, v in (x.split("=") for x in (leos or "").split(",") if "=" in x)}
        samples.setdefault((topic, part), []).append((at, leader, epoch, _ids(isr), hw, leo))
    batches = {}
    for b, topic, part, base, last, epoch, size in con.execute(
            "select broker, topic, partition, base_offset, last_offset, leader_epoch, batch_size from records "
            "group by broker, topic, partition, base_offset order by broker, topic, partition, base_offset"):
        batches.setdefault((topic, part), {}).setdefault(b, []).append((base, last, epoch, size))
    disk = {}
    for at_ns, idx, kind, desc in con.execute(
            "select at_ns, node, kind, description from trace "
            "where kind in ('disk_write', 'disk_truncate', 'disk_lost') and description like '% file=data/%' "
            "order by idx"):
        if idx >= brokers:
            continue
        parsed = timeline_logs.parse_disk_event(kind, desc)
        if parsed:
            topic, part, seg, args = parsed
            disk.setdefault((topic, part), {}).setdefault(idx + 1, []).append((at_ns / 1e6, kind, seg, args))
    values = {}
    for b, topic, part, off, val in con.execute(
            "select broker, topic, partition, offset, value from records order by broker"):
        values.setdefault((topic, part), {}).setdefault(off, _short(val))
    sends = {}
    unsure = {}  # sends whose outcome is unknown (timed out): no offset, but maybe appended
    for topic, part, off, val, invoke, done, leader, outcome in con.execute(
            "select topic, partition, offset, value, invoke_ms, complete_ms, leader, outcome from ops "
            "where type = 'send' order by invoke_ms"):
        if outcome == "ok" and off is not None and off >= 0:
            sends.setdefault((topic, part), {}).setdefault(off, []).append((done, leader, _short(val)))
        elif outcome == "info":
            unsure.setdefault((topic, part), []).append((invoke, done, leader, _short(val)))
    polled_hw = {}
    for topic, part, hw, done in con.execute(
            "select p.topic, p.partition, max(p.high_watermark), o.complete_ms from polled_records p "
            "join ops o on o.id = p.op_id group by p.op_id"):
        polled_hw.setdefault((topic, part), []).append((done, hw))
    acked_all = {}
    for topic, part, off, done in con.execute(
            "select topic, partition, offset, complete_ms from ops where type = 'send' and outcome = 'ok' "
            "and acks = -1 and offset >= 0"):
        acked_all.setdefault((topic, part), []).append((done, off + 1))

    tps = sorted(set(state) | set(batches) | set(disk) | set(samples))
    out = []
    for tp in tps:
        series = _step(state.get(tp, []))
        if not series and samples.get(tp):
            series = _step([[s[0], s[1], s[2], s[3]] for s in samples[tp]])
        reps = replicas.get(tp) or sorted(set(batches.get(tp, {})) | set(disk.get(tp, {})))
        epoch_at = _epoch_lookup(series)
        logs = {}
        layouts = {b: timeline_logs.FinalLayout(batches.get(tp, {}).get(b, []),
                                                [e[2] for e in disk.get(tp, {}).get(b, [])]) for b in reps}
        for b in reps:
            runs = timeline_logs.replay_replica(
                disk.get(tp, {}).get(b, []), layouts[b], epoch_at, window_start,
                _first_covering(samples.get(tp, []), b, window_start),
                peers=[layouts[o] for o in reps if o != b])
            for r in runs:
                if r["lost"]:
                    r["values"] = _lost_values(sends.get(tp, {}), unsure.get(tp, []), r, series, b)
            logs[str(b)] = {
                "runs": [[round(r["t"], 3), None if r["end"] is None else round(r["end"], 3), r["base"], r["last"],
                          r["epoch"], (1 if r["approx"] else 0) | (2 if r["lost"] else 0), r.get("values")]
                         for r in sorted(runs, key=lambda r: r["t"])],
                "leo": [[round(t, 3), v] for t, v in timeline_logs.leo_series(runs)],
            }
        out.append({
            "topic": tp[0], "partition": tp[1], "internal": tp[0].startswith("__"), "replicas": reps,
            "state": [[round(s[0], 3), s[1], s[2], s[3]] for s in series],
            "hw": _hw_series(samples.get(tp, []), polled_hw.get(tp, []), acked_all.get(tp, [])),
            "logs": logs, "values": {str(k): v for k, v in values.get(tp, {}).items()},
        })
    return out


def _short(value, limit=40):
    """A record value for a tooltip: at most `limit` characters."""
    if value is None:
        return None
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _epoch_lookup(series):
    times = [s[0] for s in series]

    def epoch_at(t):
        i = bisect.bisect_right(times, t) - 1
        return series[i][2] if i >= 0 else 0
    return epoch_at


def _first_covering(samples, broker, window_start):
    """offset -> the first sample time at which `broker`'s log end passed it (else the window start)."""
    points = [(s[0], s[5].get(broker, -1)) for s in samples]

    def at(offset):
        for t, leo in points:
            if leo > offset:
                return t
        return window_start
    return at


def _lost_values(sends, unsure, run, series, broker):
    """Values of a truncated run's records, from the client sends acknowledged at its
    offsets by the leader of the run's epoch while that epoch lasted (the record at
    an offset in an epoch is the one that epoch's leader appended). When the run was
    that leader's own append and a send to it has an unknown outcome (timed out: no
    offset) and was in flight when it wrote, its value is shown as "≈ value" (a
    guess, in send order). None when nothing is known."""
    start = next((s[0] for s in series if s[2] == run["epoch"]), None)
    if start is None:
        return None
    leader = next(s[1] for s in series if s[2] == run["epoch"])
    end = next((s[0] for s in series if s[2] > run["epoch"]), float("inf"))
    vals = []
    for off in range(run["base"], run["last"] + 1):
        cands = [v for done, led, v in sends.get(off, []) if led == leader and start <= done < end]
        vals.append(cands[0] if cands else None)
    if broker == leader and None in vals:
        guesses = [v for invoke, done, led, v in unsure
                   if led == leader and invoke <= run["t"] and (done is None or done < 0 or run["t"] <= done)]
        for i, v in enumerate(vals):
            if v is None and guesses:
                vals[i] = "≈ " + guesses.pop(0)
    return vals if any(v is not None for v in vals) else None


def _hw_series(samples, polls, acks):
    """The high watermark: exact at each 1 s sample, raised between samples by
    what clients were told (a poll's HW, an acks=all send's offset + 1)."""
    points = [(s[0], 0, s[4]) for s in samples]  # exact
    points += [(t, 1, hw) for t, hw in polls if t is not None and t >= 0 and hw is not None and hw >= 0]
    points += [(t, 1, hw) for t, hw in acks if t is not None and t >= 0]
    points.sort()
    out, cur = [], -1
    for t, kind, hw in points:
        if kind == 0 and hw < 0:
            continue  # no leader to ask at that sample: the last known value holds
        cur = hw if kind == 0 else max(cur, hw)
        if not out or out[-1][1] != cur:
            out.append([round(t, 3), cur])
    return out
