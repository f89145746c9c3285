"""The HTML run report's plots (matplotlib, Agg backend), each returned as a
PNG data URI so the page needs no other file and no network.

Every plot's x axis is virtual time in seconds; fault windows are shaded
(ksim.story.fault_windows) and anomalies drawn as red dotted lines at their
time (and, on their partition's log plot, as red crosses at their offsets).

What each plot reads (proto/README.md):
  * partition_plot: the 1 s `partition_states` samples (every replica's log
    end offset, the high watermark) as steps, each replica's final log end
    from the `records` table at the end, acknowledged sends as dots at their
    offsets; ISR size and leader / leader epoch exactly from the `events`
    table (elections, ISR changes);
  * lag_plot: each consumer's fetch lag (the consumer's records-lag metric)
    per group and partition: the high watermark a poll's records carried
    minus the position after the poll (`polled_records`); only polls that
    returned records of the partition give a point;
  * produce_plot: send latency (acknowledgement - invocation) p50 / p99 / max
    per virtual second, and acknowledged / failed / unknown sends per second.
"""
import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402

from .run_db import parse_ids  # noqa: E402

MAX_POINTS = 2_000
LEGEND = {"fontsize": 7, "loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0}  # beside the panel  # per line: a long run's lines are thinned to this many points


def _thin(xs, *ys):
    step = max(1, len(xs) // MAX_POINTS)
    return (xs[::step],) + tuple(y[::step] for y in ys)


def _uri(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _decorate(axes, windows, anomalies, end_s):
    for ax in axes:
        for i, (a, b, _label) in enumerate(windows):
            ax.axvspan(a / 1000, b / 1000, color="tab:red", alpha=0.10, lw=0,
                       label="fault window" if i == 0 and ax is axes[0] else None)
        for j, an in enumerate(anomalies):
            ax.axvline(an.at_ms / 1000, color="red", ls=":", lw=1.2,
                       label="anomaly" if j == 0 and ax is axes[0] else None)
        ax.set_xlim(0, max(end_s, 0.001))
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("virtual time (s)")


def _merged_steps(points):
    """(times s, values) of a step series from (at_ms, kind, value) points: kind 0 a sample (None: unknown, drawn
    as a gap), kind 1 evidence of a lower bound (the value is at least this since the last sample), kind 2 the
    final value. A sample always wins: a log can shrink (truncation), evidence only raises."""
    xs, ys, cur = [], [], None
    for at, kind, value in sorted(points, key=lambda p: (p[0], p[1])):
        cur = value if kind != 1 else max(cur if cur is not None else 0, value)
        xs.append(at / 1000)
        ys.append(np.nan if cur is None else cur)
    return _thin(xs, ys) if len(xs) > MAX_POINTS else (xs, ys)


def partition_plot(run, topic, partition, windows, anomalies):
    """LEO per replica + HW; ISR size; leader and leader epoch — one image, three panels."""
    end_s = run.end_ms / 1000
    fig, (ax_log, ax_isr, ax_lead) = plt.subplots(3, 1, figsize=(10.5, 6.2), sharex=True,
                                                  gridspec_kw={"height_ratios": [3, 1, 1.3]})
    fig.suptitle(f"{topic}-{partition}", fontsize=11)
    series = run.partition_series(topic, partition)
    created = run.query("select min(at_ms), replicas from events where topic = ? and partition = ? and "
                        "type = 'election'", (topic, partition))
    if created and created[0][0] is not None:
        # A new partition: every replica's log is empty, the high watermark 0 (the samples start up to 1 s later).
        at, replicas = created[0]
        series = [(at, None, None, [], 0, {b: 0 for b in parse_ids(replicas)})] + series
    final = run.final_log_ends(topic, partition)
    acked = run.query("select complete_ms, offset, leader, acks from ops where type = 'send' and outcome = 'ok' "
                      "and topic = ? and partition = ? and offset >= 0 order by complete_ms, id", (topic, partition))
    brokers = sorted({b for s in series for b in s[5]} | set(final))
    for b in brokers:
        # Between two samples, an acknowledgement by broker b proves its log reached offset + 1.
        points = [(s[0], 0, s[5].get(b)) for s in series] + [(a[0], 1, a[1] + 1) for a in acked if a[2] == b]
        if b in final:
            points.append((run.end_ms, 2, final[b]))
        xs, ys = _merged_steps(points)
        if xs:
            ax_log.step(xs, ys, where="post", lw=1.4, label=f"LEO broker {b}")
    # The high watermark: the samples, and between them what acks=all acknowledgements and fetches prove.
    polled = run.query("select o.complete_ms, max(p.high_watermark) from polled_records p join ops o on o.id = p.op_id "
                       "where p.topic = ? and p.partition = ? and p.high_watermark >= 0 group by p.op_id",
                       (topic, partition)) if run.has("polled_records") else []
    points = ([(s[0], 0, s[4]) for s in series] + [(a[0], 1, a[1] + 1) for a in acked if a[3] == -1]
              + [(at, 1, hw) for at, hw in polled])
    xs, ys = _merged_steps(points)
    if xs:
        ax_log.step(xs + [end_s], ys + [ys[-1]], where="post", color="black", ls="--", lw=1.6, label="high watermark")
    if acked:
        xs, ys = _thin(np.array([a[0] for a in acked]) / 1000, np.array([a[1] for a in acked]))
        ax_log.plot(xs, ys, "o", ms=3.5, color="tab:gray", alpha=0.7, zorder=5, label="acked send (offset)")
    for an in anomalies:
        if an.topic == topic and an.partition == partition:
            for off in an.extra.get("offsets", [])[:50] or [0]:
                ax_log.plot(an.at_ms / 1000, off, "X", color="red", ms=11, mew=1, zorder=6)
    ax_log.set_ylabel("offset")
    ax_log.legend(**LEGEND)

    # Exact steps from the events: ISR size, leader, epoch.
    t, isr_n, leader, epoch = [], [], [], []
    for at, typ, node, ep, isr in run.query(
            "select at_ms, type, node, leader_epoch, isr from events where topic = ? and partition = ? and type in "
            "('election', 'isr_change') order by at_ms, rowid", (topic, partition)):
        t.append(at / 1000)
        isr_n.append(len(parse_ids(isr)))
        leader.append((node if node >= 0 else np.nan) if typ == "election" else (leader[-1] if leader else np.nan))
        epoch.append(ep)
    if t:
        t.append(end_s)
        isr_n.append(isr_n[-1])
        leader.append(leader[-1])
        epoch.append(epoch[-1])
        ax_isr.step(t, isr_n, where="post", color="tab:green", lw=1.6)
        ax_lead.step(t, leader, where="post", color="tab:blue", lw=1.6, label="leader (broker)")
        ax_lead.step(t, epoch, where="post", color="tab:orange", lw=1.2, ls="--", label="leader epoch")
        ax_lead.legend(**LEGEND)
    ax_isr.set_ylabel("ISR size")
    ax_isr.set_ylim(-0.2, max(isr_n + [1]) + 0.5)
    ax_lead.set_ylabel("leader / epoch")
    _decorate([ax_log, ax_isr, ax_lead], windows, anomalies, end_s)
    ax_log.legend(**LEGEND)
    fig.tight_layout()
    return _uri(fig)


def lag_series(run, max_groups=4, max_partitions=8):
    """{group: {(topic, partition): (times_ms, lags)}}, capped; and whether a cap cut something."""
    rows = run.query(
        "select o.group_id, p.topic, p.partition, o.complete_ms, max(p.high_watermark) - max(p.offset) - 1 "
        "from polled_records p join ops o on o.id = p.op_id where o.group_id != '' and o.group_id is not null "
        "and p.high_watermark >= 0 group by p.op_id, p.topic, p.partition order by o.complete_ms") \
        if run.has("polled_records") else []
    out, capped = {}, False
    for group, topic, partition, at, lag in rows:
        if group not in out and len(out) >= max_groups:
            capped = True
            continue
        g = out.setdefault(group, {})
        if (topic, partition) not in g and len(g) >= max_partitions:
            capped = True
            continue
        xs, ys = g.setdefault((topic, partition), ([], []))
        xs.append(at)
        ys.append(max(lag, 0))
    return out, capped


def lag_plot(run, windows, anomalies):
    series, capped = lag_series(run)
    if not series:
        return None, False
    fig, axes = plt.subplots(len(series), 1, figsize=(10.5, 2.4 * len(series) + 0.6), sharex=True, squeeze=False)
    axes = [a[0] for a in axes]
    for ax, (group, parts) in zip(axes, sorted(series.items())):
        for (topic, partition), (xs, ys) in sorted(parts.items()):
            xs, ys = _thin(np.array(xs) / 1000, np.array(ys))
            ax.step(xs, ys, where="post", lw=1.2, label=f"{topic}-{partition}")
        ax.set_title(f"group {group}: records behind the high watermark after each poll", fontsize=9)
        ax.set_ylabel("lag (records)")
        ax.legend(**LEGEND)
    _decorate(axes, windows, anomalies, run.end_ms / 1000)
    fig.tight_layout()
    return _uri(fig), capped


def produce_plot(run, windows, anomalies):
    rows = run.query("select invoke_ms, complete_ms, outcome from ops where type = 'send'")
    if not rows:
        return None
    inv = np.array([r[0] for r in rows], dtype=float)
    comp = np.array([r[1] if r[1] is not None and r[1] >= 0 else r[0] for r in rows], dtype=float)
    outcome = np.array([r[2] for r in rows])
    end_s = run.end_ms / 1000
    nbins = int(max(end_s, comp.max() / 1000)) + 1
    fig, (ax_lat, ax_thr) = plt.subplots(2, 1, figsize=(10.5, 4.6), sharex=True)
    ok = outcome == "ok"
    sec = np.floor(comp / 1000).astype(int)
    lat = comp - inv
    p50, p99, mx, xs = [], [], [], []
    for s in np.unique(sec[ok]):
        v = lat[ok & (sec == s)]
        xs.append(s)
        p50.append(np.percentile(v, 50))
        p99.append(np.percentile(v, 99))
        mx.append(v.max())
    if xs:
        ax_lat.plot(xs, mx, "o-", ms=2, lw=1, color="tab:red", label="max")
        ax_lat.plot(xs, p99, "o-", ms=2, lw=1.2, color="tab:orange", label="p99")
        ax_lat.plot(xs, p50, "o-", ms=2, lw=1.4, color="tab:blue", label="p50")
        ax_lat.legend(**LEGEND)
    ax_lat.set_ylabel("send latency (ms)")
    ax_lat.set_title("acknowledged sends, per virtual second (points at the second's start)", fontsize=9)
    edges = np.arange(nbins + 1)
    for name, mask, color in (("acknowledged", ok, "tab:green"), ("failed", outcome == "fail", "tab:red"),
                              ("unknown (info)", (outcome != "ok") & (outcome != "fail"), "tab:gray")):
        if mask.any():
            counts, _ = np.histogram(comp[mask] / 1000, bins=edges)
            ax_thr.step(edges[:-1], counts, where="post", color=color, lw=1.3, label=name)
    ax_thr.set_ylabel("sends / s")
    ax_thr.legend(**LEGEND)
    _decorate([ax_lat, ax_thr], windows, anomalies, end_s)
    fig.tight_layout()
    return _uri(fig)
