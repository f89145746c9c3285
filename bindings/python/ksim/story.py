"""A run's story in plain English: every fault, heal, election, ISR change,
controller change, rebalance, transaction and anomaly of a run store, in
virtual-time order, each with a sentence saying what it means in Kafka.

    from ksim.run_db import RunDb
    from ksim.story import story, fault_windows
    for e in story(RunDb("run.db")):
        print(e.at_ms, e.kind, e.text)

Where each line comes from (proto/README.md has the tables):
  * faults, heals, elections, ISR changes, group creations: the `events` table
    (exact: the history's timeline). An election is "ELR" when its leader was
    not in the ISR before it and the election was not unclean (KIP-966 elects
    from the eligible leader replicas);
  * controller changes: the `raft/to_Leader` coverage probes in the kernel
    `trace` table — only within the kept trace window (the newest 200,000
    events), so a long run may miss its early ones;
  * rebalances: `assign` operations, one line per group generation;
  * transactions: a transactional producer's sends, one line per run of sends
    that ended the same way (committed / aborted) — a run of commits may span
    several transactions;
  * anomalies: the checkers' findings (`anomalies` table), at their time.
A topic's creation is one line, not one per partition.
Standard library only.
"""
import re
from dataclasses import dataclass, field

from .run_db import parse_ids, parse_offsets


@dataclass
class StoryEvent:
    at_ms: float
    kind: str          # fault, heal, election, unclean, elr, offline, isr-shrink, isr-expand, controller,
                       # created, rebalance, group, transaction, anomaly
    text: str          # what happened
    why: str = ""      # what it means
    topic: str = ""
    partition: int = -1
    extra: dict = field(default_factory=dict)


def _set(ids):
    return "{" + ",".join(str(b) for b in ids) + "}"


def _tp(topic, partition):
    return f"{topic}-{partition}"


def _fault_text(run, node, what):
    who = run.node_name(node)
    role = run.role(node)
    if what == "crash":
        if role == "broker":
            why = (f"{who} stops answering; the controller fences it after broker.session.timeout.ms and moves "
                   "leadership away, and the leaders drop it from their ISRs after replica.lag.time.max.ms")
        elif role == "controller":
            why = f"{who} stops; if it was the active controller, the other KRaft voters elect a new one"
        elif role == "client":
            why = (f"{who} dies like a killed JVM: its unsent records are gone, and its group coordinator evicts it "
                   "after session.timeout.ms and rebalances its partitions to the others")
        else:
            why = f"{who} stops"
        return f"{who} crashed", why
    if what == "controlled shutdown":
        return f"{who} shut down cleanly", ("a controlled shutdown: it asks the controller to move its leaderships "
                                            "away first, so nothing acknowledged is lost")
    if what.startswith("power_fail"):
        return f"{who} lost power" + (" (torn writes)" if "torn" in what else ""), (
            "everything not fsynced is lost from its disk (Kafka does not fsync partition logs; replication is "
            "what makes a write durable)")
    if what.startswith("pause"):
        return f"{who} paused for {what.split()[1]} ms", (
            "a stop-the-world pause (GC, VM): it misses heartbeats and fetches, and the others may think it dead; "
            "it resumes unaware")
    if what.startswith("partition"):
        sides = re.findall(r"\[([0-9,]*)\]", what)
        text = " | ".join("{" + s + "}" for s in sides if s)
        return f"network partitioned: {text}", "nodes on different sides cannot talk until the network heals"
    if what == "isolate":
        return f"{who} isolated from every other node", "it can talk to no one until the network heals"
    if what.startswith("slow_disk"):
        factor = what.split("x")[-1]
        try:
            if float(factor) == 1.0:
                return f"{who}'s disk back to normal speed", "writes and fsyncs take their usual time again"
        except ValueError:
            pass
        return f"{who}'s disk slowed x{factor}", (
            "writes and fsyncs take longer: a follower on it falls behind and leaves the ISR after "
            "replica.lag.time.max.ms")
    if what == "disk_full":
        return f"{who}'s disk is full", "a failed write halts the broker (its last log dir failed)"
    if what == "disk_stall":
        return f"{who}'s disk stalls", "every write waits: the broker stops making progress while it lasts"
    return f"{who}: {what}", ""


def _heal_text(run, node, what):
    who = run.node_name(node)
    if what == "restart":
        if run.role(node) == "broker":
            return f"{who} restarted", ("it recovers its log, truncates where its leader's log diverges (by leader "
                                        "epoch, KIP-101/279) and fetches until it is back in the ISR")
        if run.role(node) == "client":
            return f"{who} restarted", "a new incarnation of the client: a consumer joins its group as a new member"
        return f"{who} restarted", ""
    if what.startswith("heal phase"):
        return "heal phase", ("check() stops every fault (restarts, heals the network) and waits for the cluster "
                              "to converge before the checkers judge")
    if what == "heal network":
        return "network healed", "every node can reach every other again"
    if what.endswith(" off"):
        return f"{who}: {what}", "the disk fault ends"
    return f"{who}: {what}", ""


def fault_windows(run):
    """[(start_ms, end_ms, label)]: each fault until the heal that ends it (the same node's restart / disk
    fault off, a network heal for a partition, the heal phase for anything) or the end of the run."""
    open_, out = [], []
    for at, typ, node, what in run.query("select at_ms, type, node, what from events where type in ('fault', 'heal') "
                                         "order by at_ms, rowid"):
        if typ == "fault":
            if what.startswith("pause"):
                try:
                    out.append((at, at + float(what.split()[1]), f"{what} ({run.node_name(node)})"))
                except (IndexError, ValueError):
                    pass
                continue
            if what.startswith("slow_disk"):
                open_ = [w for w in open_ if not (w[1] == node and w[2].startswith("slow_disk"))]
                if what.endswith("x1.000000"):
                    continue
            open_.append((at, node, what))
            continue
        still = []
        for w in open_:
            ends = (what.startswith("heal phase") or (node >= 0 and w[1] == node)
                    or (what == "heal network" and w[1] < 0) or (what == "heal network" and w[2] == "isolate"))
            if ends and what.endswith(" off") and not w[2].startswith(what[:-4]):
                ends = False
            if ends:
                out.append((w[0], at, f"{w[2]} ({run.node_name(w[1])})" if w[1] >= 0 else w[2]))
            else:
                still.append(w)
        open_ = still
    out += [(w[0], run.end_ms, f"{w[2]} ({run.node_name(w[1])})" if w[1] >= 0 else w[2]) for w in open_]
    return sorted(out)


def _cluster_events(run):
    out, isr, created, down = [], {}, {}, {}
    for at, typ, node, topic, partition, epoch, unclean, isr_text, replicas, what in run.query(
            "select at_ms, type, node, topic, partition, leader_epoch, unclean, isr, replicas, what from events "
            "order by at_ms, rowid"):
        key = (topic, partition)
        new_isr = parse_ids(isr_text)
        if typ == "fault":
            if what in ("crash", "controlled shutdown", "isolate") or what.startswith(("power_fail", "disk_full")):
                down[node] = what
            text, why = _fault_text(run, node, what)
            out.append(StoryEvent(at, "fault", text, why, extra={"node": node}))
        elif typ == "heal":
            if what in ("restart", "heal network", "disk_full off") or what.startswith("heal phase"):
                down = {} if node < 0 and what != "heal network" else {
                    n: w for n, w in down.items() if n != node and not (what == "heal network" and w == "isolate")}
            text, why = _heal_text(run, node, what)
            out.append(StoryEvent(at, "heal", text, why, extra={"node": node}))
        elif typ == "group_created":
            out.append(StoryEvent(at, "group", f"group {what} created on its coordinator (broker {node})",
                                  "the coordinator had no state for the group: members join and a first generation "
                                  "is formed"))
        elif typ == "group_converted":
            group, _, protocol = what.partition(" -> ")
            out.append(StoryEvent(at, "group", f"group {group} converted to a {protocol} group (broker {node})",
                                  "KIP-848 online migration: the members, their partitions and the committed offsets "
                                  "stay; generations go on as member epochs"))
        elif typ == "election" and what == "created":
            c = created.setdefault(topic, {"at": at, "n": 0, "rf": len(parse_ids(replicas)), "leaders": []})
            c["n"] += 1
            c["leaders"].append(node)
            isr[key] = new_isr
        elif typ == "election":
            before = isr.get(key, [])
            tp = _tp(topic, partition)
            if node < 0:
                out.append(StoryEvent(at, "offline", f"{tp} is offline (epoch {epoch})",
                                      "no replica that may lead is alive: the partition accepts no reads or writes "
                                      "until one returns (or an unclean election is allowed)", topic, partition))
            elif unclean:
                was = f"was not in the ISR {_set(before)}" if before else "was not in the ISR (no in-sync replica was left)"
                out.append(StoryEvent(at, "unclean", f"UNCLEAN election: broker {node} leads {tp} in epoch {epoch}",
                                      f"broker {node} {was}: "
                                      "unclean.leader.election.enable let an out-of-sync replica lead, and committed "
                                      "records it lacks are lost", topic, partition))
            elif before and node not in before:
                out.append(StoryEvent(at, "elr", f"broker {node} elected leader of {tp} in epoch {epoch} from the ELR",
                                      f"not in the last ISR {_set(before)}, but an eligible leader replica (KIP-966): "
                                      "it was in the ISR when the ISR fell below min.insync.replicas, so it holds "
                                      "every committed record — a clean election", topic, partition))
            else:
                out.append(StoryEvent(at, "election", f"broker {node} elected leader of {tp} in epoch {epoch}",
                                      f"a clean election from the ISR {_set(before) if before else ''}: every "
                                      "committed record is on the new leader; the epoch bump fences the old one",
                                      topic, partition))
            isr[key] = new_isr
        elif typ == "isr_change":
            before = isr.get(key, [])
            tp = _tp(topic, partition)
            left = [b for b in before if b not in new_isr]
            joined = [b for b in new_isr if b not in before]
            if left and not joined:
                gone = [f"broker {b} is down ({down[b]})" for b in left if b in down]
                behind = [str(b) for b in left if b not in down]
                reason = "; ".join(gone + ([f"broker{'s' if len(behind) > 1 else ''} {', '.join(behind)} fell "
                                            "behind for replica.lag.time.max.ms (slow, paused or cut off)"]
                                           if behind else []))
                out.append(StoryEvent(at, "isr-shrink", f"{tp} ISR shrank {_set(before)} -> {_set(new_isr)}",
                                      f"{reason}: acks=all writes now wait only for {_set(new_isr)} (and are "
                                      "refused if that is fewer than min.insync.replicas)", topic, partition))
            elif joined and not left:
                out.append(StoryEvent(at, "isr-expand", f"{tp} ISR grew {_set(before)} -> {_set(new_isr)}",
                                      f"broker{'s' if len(joined) > 1 else ''} {_set(joined)[1:-1]} caught up to the "
                                      "high watermark and is in sync again", topic, partition))
            elif left or joined:
                out.append(StoryEvent(at, "isr-shrink", f"{tp} ISR changed {_set(before)} -> {_set(new_isr)}",
                                      "members left and joined in one change", topic, partition))
            isr[key] = new_isr
    for topic, c in created.items():
        internal = topic.startswith("__")
        out.append(StoryEvent(c["at"], "created", f"topic {topic} created: {c['n']} partition(s), RF {c['rf']}",
                              "Kafka's internal topic" if internal else
                              f"the controller places the replicas and picks the first leaders "
                              f"(brokers {', '.join(str(b) for b in sorted(set(c['leaders'])))}) in epoch 0",
                              topic))
    return out


def _controller_changes(run):
    if not run.has("trace"):
        return []
    out = []
    for at_ns, node in run.query("select at_ns, node from trace where kind = 'probe' and "
                                 "description like '%probe name=raft/to_Leader%' order by idx"):
        n = node + 1
        out.append(StoryEvent(at_ns / 1e6, "controller", f"{run.node_name(n)} is the active controller",
                              "it won the KRaft election (the metadata quorum's leader): it now fences brokers, "
                              "elects partition leaders and changes ISRs"))
    return out


def _rebalances(run):
    gens = {}
    for at, group, gen, name, detail, offsets in run.query(
            "select invoke_ms, group_id, generation, client_name, detail, offsets from ops where type = 'assign' "
            "and outcome = 'ok' order by id"):
        g = gens.setdefault((group, gen), {"at": at, "members": {}, "detail": detail})
        g["members"].setdefault(name, []).extend(f"{t}-{p}" for (t, p) in parse_offsets(offsets))
    out = []
    for (group, gen), g in sorted(gens.items(), key=lambda kv: kv[1]["at"]):
        parts = (g["detail"] or "").split(":")
        proto = f" ({parts[1].lower()}, {parts[2]})" if len(parts) >= 3 else ""
        who = "; ".join(f"{m} <- {', '.join(sorted(p)) or 'nothing'}" for m, p in sorted(g["members"].items()))
        out.append(StoryEvent(g["at"], "rebalance", f"group {group} rebalanced: generation {gen}{proto}",
                              f"the members were (re)assigned: {who}",
                              extra={"group": group}))
    return out


def _transactions(run):
    out = []
    rows = run.query("select client_name, invoke_ms, complete_ms, txn_state from ops where type = 'send' and "
                     "transactional = 1 order by client, id")
    cur = None
    for name, invoke, complete, state in rows:
        state = state or "unknown"
        if cur and cur["name"] == name and cur["state"] == state:
            cur["n"] += 1
            cur["end"] = max(cur["end"], complete if complete >= 0 else invoke)
            continue
        cur = {"name": name, "state": state, "n": 1, "at": invoke, "end": complete if complete >= 0 else invoke}
        out.append(cur)
    events = []
    for c in out:
        why = {"committed": "the coordinator wrote COMMIT markers: read_committed consumers see these records",
               "aborted": "the transaction aborted (ABORT markers): read_committed consumers skip these records"}
        events.append(StoryEvent(c["at"], "transaction",
                                 f"{c['name']}: {c['n']} transactional record(s) {c['state']} "
                                 f"(until t={c['end'] / 1000:.3f}s)", why.get(c["state"], "the outcome never "
                                                                              "became known")))
    return events


def _anomalies(run):
    if not run.has("anomalies"):
        return []
    out = []
    for kind, expected, cause, topic, partition, offsets, records, at, explanation in run.query(
            "select kind, expected, cause, topic, partition, offsets, records, at_ms, explanation from anomalies "
            "order by at_ms, rowid"):
        first = (explanation or "").split("\n")[0]
        verdict = f"expected: {cause}" if expected else "a VIOLATION"
        where = f" on {_tp(topic, partition)}" if topic else ""
        out.append(StoryEvent(at, "anomaly", f"anomaly {kind}{where} ({verdict})", first, topic or "",
                              partition if topic else -1,
                              {"kind": kind, "expected": bool(expected), "offsets": parse_ids(offsets)}))
    return out


def story(run):
    """Every StoryEvent of the run, in time order."""
    events = (_cluster_events(run) + _controller_changes(run) + _rebalances(run) + _transactions(run)
              + _anomalies(run))
    return sorted(events, key=lambda e: e.at_ms)
