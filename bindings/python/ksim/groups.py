"""Consumer groups of a run, as kafka-consumer-groups.sh --describe prints them, at any virtual time.

    ksim consumer-groups RUN.db --describe [--group G] [--at MS]
    python3 -m ksim.groups RUN.db --describe [--group G] [--at MS]      # what the CLI runs

    GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID ...
    billing         orders          0          25              60              35              billing-2-682f...

Rebuilt from the run store's client history (ops table), which is what the
group coordinator was told, in the order it was told:
  * CURRENT-OFFSET: the group's last committed offset for the partition — the
    last successful commit (auto or manual) completed by then, or the committed
    offset a member read when it was assigned the partition (a `seek` with
    detail 'committed'; offsets committed inside transactions are seen only so);
  * LOG-END-OFFSET: the partition's high watermark (what Kafka's tool gets from
    ListOffsets, read_uncommitted), from the 1 s partition_states samples: the
    last sample at or before the instant ("-" when no sample knew it);
  * LAG = LOG-END-OFFSET - CURRENT-OFFSET;
  * CONSUMER-ID / HOST / CLIENT-ID: the member owning the partition then — its
    last assignment not revoked since (a crashed client owns nothing): member
    id, "/node<N>" (the client's simulated node) and the client's name.
A group of group.protocol=consumer (KIP-848: assign ops with detail
'consumer:<assignor>') gets a second table under its own: each owning
member's MEMBER-EPOCH (the generation of its last reconciliation by then) and
partition count. The group and target assignment epochs are the coordinator's
and not in the run store (sim.describe_group shows them during a run).
Standard library only.
"""
import argparse
import sys

from .run_db import RunDb, RunDbError, parse_offsets


class GroupsError(Exception):
    """A bad request (unknown group, negative time): main() prints it and exits 2."""


def group_ids(run):
    return [g for (g,) in run.query("select distinct group_id from ops where group_id is not null and group_id != '' "
                                    "order by group_id")]


def describe_groups(run, group=None, at_ms=None):
    """{group: [row dict]} with the columns of kafka-consumer-groups --describe, at at_ms (the end when None)."""
    if at_ms is not None and at_ms < 0:
        raise GroupsError(f"--at must be a virtual time >= 0 ms, not {at_ms:g}")
    groups = group_ids(run)
    if group is not None and group not in groups:
        known = ", ".join(groups) if groups else "none"
        raise GroupsError(f"unknown group '{group}' in {run.path} (groups: {known})")
    wanted = [group] if group is not None else groups
    crashes = {}
    for node, at in run.query("select node, at_ms from events where type = 'fault' and (what in "
                              "('crash', 'controlled shutdown') or what like 'power_fail%')"):
        crashes.setdefault(node, []).append(at)
    out = {}
    for g in wanted:
        committed, owner = {}, {}
        rows = run.query("select client, client_name, type, invoke_ms, complete_ms, outcome, member_id, detail, "
                         "offsets from ops where group_id = ? and type in ('commit', 'seek', 'assign', 'revoke') "
                         "and outcome = 'ok' order by complete_ms, id", (g,))
        events = []
        for client, name, typ, invoke, complete, outcome, member, detail, offsets in rows:
            at = complete if complete is not None and complete >= 0 else invoke
            events.append((at, 1, client, name, typ, member, detail, offsets))
        for client, times in crashes.items():
            for at in times:
                events.append((at, 0, client, None, "crash", None, None, None))
        for at, _, client, name, typ, member, detail, offsets in sorted(events, key=lambda e: (e[0], e[1])):
            if at_ms is not None and at > at_ms:
                break
            if typ == "crash":
                owner = {tp: o for tp, o in owner.items() if o[2] != client}
                continue
            tps = parse_offsets(offsets)
            if typ == "commit" or (typ == "seek" and detail == "committed"):
                committed.update({tp: o for tp, o in tps.items() if o >= 0})
            elif typ == "assign":
                if detail and ":EAGER:" in f"{detail}:":
                    owner = {tp: o for tp, o in owner.items() if o[2] != client}
                for tp in tps:
                    owner[tp] = (member, f"/node{client}", client, name)
            elif typ == "revoke":
                for tp in tps:
                    if tp in owner and owner[tp][2] == client:
                        del owner[tp]
        rows = []
        sizes = {}
        for o in owner.values():
            sizes[o[0]] = sizes.get(o[0], 0) + 1
        order = sorted(set(committed) | set(owner),
                       key=lambda tp: (0, -sizes[owner[tp][0]], owner[tp][0], tp) if tp in owner else (1, 0, "", tp))
        for tp in order:
            hw = run.high_watermark_at(tp[0], tp[1], at_ms)
            cur = committed.get(tp)
            lag = hw - cur if hw is not None and cur is not None else None
            member, host, _, name = owner.get(tp, ("-", "-", None, "-"))
            rows.append({"group": g, "topic": tp[0], "partition": tp[1], "current_offset": cur,
                         "log_end_offset": hw, "lag": lag, "consumer_id": member or "-", "host": host,
                         "client_id": name or "-"})
        out[g] = rows
    return out


HEADER = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID")


def row_cells(r):
    def show(v):
        return "-" if v is None else str(v)
    return (r["group"], r["topic"], str(r["partition"]), show(r["current_offset"]), show(r["log_end_offset"]),
            show(r["lag"]), r["consumer_id"], r["host"], r["client_id"])


def format_group(group, rows):
    """One group's table as kafka-consumer-groups.sh prints it (ConsumerGroupCommand.printOffsets: the group,
    topic, consumer-id and host columns at least 15 wide and as wide as their longest value, the offsets
    %-15s, partition %-10s; rows of members first, the members with more partitions first, then the
    partitions with a committed offset and no owner)."""
    if not rows:
        return f"\nConsumer group '{group}' has no active members and no committed offsets.\n"
    cells = [row_cells(r) for r in rows]
    w = [max(15, *(len(c[i]) for c in cells)) for i in (0, 1, 6, 7)]  # Kafka's minimum width is 15
    fmt = f"%-{w[0]}s %-{w[1]}s %-10s %-15s %-15s %-15s %-{w[2]}s %-{w[3]}s %s"
    lines = [fmt % HEADER] + [fmt % c for c in cells]
    owned = any(r["consumer_id"] != "-" for r in rows)
    note = "" if owned else f"\nConsumer group '{group}' has no active members.\n"
    return note + "\n" + "\n".join(line.rstrip() for line in lines) + "\n"


def member_epochs(run, group, rows, at_ms=None):
    """[(member id, member epoch, client name, partitions owned)] of a group.protocol=consumer group's owning
    members at at_ms (the end when None); [] for a classic group."""
    owning = {}
    for r in rows:
        if r["consumer_id"] != "-":
            owning.setdefault(r["consumer_id"], [r["client_id"], 0])[1] += 1
    out = []
    for member, (name, count) in sorted(owning.items()):
        found = run.query("select generation from ops where group_id = ? and member_id = ? and type = 'assign' "
                          "and detail like 'consumer:%' and invoke_ms <= ? order by invoke_ms desc, id desc limit 1",
                          (group, member, float("inf") if at_ms is None else at_ms))
        if found:
            out.append((member, found[0][0], name, count))
    return out


def format_member_epochs(group, members):
    if not members:
        return ""
    w = max(15, *(len(m) for m, _, _, _ in members))
    lines = [f"%-{w}s %-12s %-15s %s" % ("MEMBER-ID", "MEMBER-EPOCH", "CLIENT-ID", "#PARTITIONS")]
    lines += [f"%-{w}s %-12s %-15s %s" % (m, e, n, c) for m, e, n, c in members]
    return (f"\nConsumer group '{group}' uses group.protocol=consumer (KIP-848):\n"
            + "\n".join(line.rstrip() for line in lines) + "\n")


def describe_text(run, group=None, at_ms=None):
    tables = describe_groups(run, group, at_ms)
    when = f"t={at_ms:.3f} ms" if at_ms is not None else "the end of the run"
    if not tables:
        return f"# consumer groups at {when}\n(no consumer groups in this run)\n"
    return f"# consumer groups at {when}\n" + "".join(
        format_group(g, rows) + format_member_epochs(g, member_epochs(run, g, rows, at_ms)) for g, rows in tables.items())


def main(argv=None):
    p = argparse.ArgumentParser(prog="ksim consumer-groups",
                                description="A run's consumer groups, kafka-consumer-groups.sh --describe style.")
    p.add_argument("db", help="the run file (ksim run --out)")
    p.add_argument("--describe", action="store_true", help="describe the groups (the only action)")
    p.add_argument("--group", help="only this group")
    p.add_argument("--at", type=float, help="virtual time in ms (default: the end of the run)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.describe:
        print("ksim consumer-groups: say --describe (the only action: ksim consumer-groups RUN.db --describe "
              "[--group G] [--at MS])", file=sys.stderr)
        return 2
    try:
        text = describe_text(RunDb(args.db), args.group, args.at)
    except (RunDbError, GroupsError) as e:
        print(f"ksim consumer-groups: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
