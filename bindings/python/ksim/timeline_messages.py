"""Network messages of a run for ksim.timeline: each send paired with its delivery or drop.

The kernel trace records `msg_send src->dst kind correlation` on the sender
and `msg_deliver` (same kind and correlation) on the receiver; a drop
(`msg_drop`, partition / peer down / discarded) names the route and the kind
id only, without the response bit, so it ends the oldest message still in
flight on that route. A send with neither is still in flight at the export.
Only the trace's kept window is there (the newest 200,000 kernel events).
"""
import re

_ARG = re.compile(r"(\w+)=(\S+)")


def load(con, max_messages):
    """Columns of every message in the trace window: t0, t1, src, dst, kind, fate
    (0 delivered, 1 dropped, 2 never delivered before the export)."""
    pending = {}  # (src, dst, kind, correlation) -> [row]
    by_route = {}  # (src, dst, kind) -> [row] (drops carry no correlation)
    rows = []
    kinds = {}
    for at_ns, idx, kind, desc in con.execute(
            "select at_ns, node, kind, description from trace where kind in ('msg_send', 'msg_deliver', 'msg_drop') "
            "order by idx"):
        args = dict(_ARG.findall(desc))
        t = at_ns / 1e6
        k = int(args.get("kind", -1))
        if kind == "msg_send":
            dst = int(args["dst"])
            row = [t, None, idx, dst, k, 2]
            rows.append(row)
            pending.setdefault((idx, dst, k, args.get("correlation")), []).append(row)
            route = by_route.setdefault((idx, dst, k), [])
            route.append(row)
            if len(route) > 64:  # keep the per-route queue short: delivered rows leave it
                by_route[(idx, dst, k)] = [r for r in route if r[1] is None]
            kinds[k] = kinds.get(k, 0) + 1
        elif kind == "msg_deliver":
            q = pending.get((int(args["src"]), idx, k, args.get("correlation")))
            while q:
                row = q.pop(0)
                if row[1] is None:
                    row[1], row[5] = t, 0
                    break
        else:  # a drop names the bare kind id, without the response bit the send carries
            dst = int(args["dst"])
            for q in (by_route.get((idx, dst, k), []), by_route.get((idx, dst, k | 1 << 16), [])):
                row = next((r for r in q if r[1] is None), None)
                if row:
                    row[1], row[5] = t, 1
                    break
    cut = max(0, len(rows) - max_messages)
    rows = rows[cut:]
    cols = {"t0": [], "t1": [], "src": [], "dst": [], "kind": [], "fate": []}
    for t0, t1, src, dst, k, fate in rows:
        cols["t0"].append(round(t0, 4))
        cols["t1"].append(round(t1, 4) if t1 is not None else None)
        cols["src"].append(src)
        cols["dst"].append(dst)
        cols["kind"].append(k)
        cols["fate"].append(fate)
    labels = {str(k): {"count": n, "label": kind_label(k)} for k, n in sorted(kinds.items())}
    return cols, labels, cut


def kind_label(k):
    # The run store keeps the network's kind ids, not their names (the id
    # table is interned at run time): a response is (1 << 16) | id.
    return f"#{k & 0xffff} response" if k >> 16 else f"#{k} request"
