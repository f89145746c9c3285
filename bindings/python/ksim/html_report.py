"""The HTML run report: one self-contained page telling a run's story.

    ksim report RUN.db --html OUT.html
    python3 -m ksim.html_report RUN.db OUT.html          # what the CLI runs

From the run store alone (ksim.run_db), the page has, top to bottom:
  1. the verdict (ok / VIOLATED / not checked), each anomaly kind with its
     counts and its first example explained, the seed, the trace hash and the
     command that reproduces the run;
  2. the story: a table in virtual time of faults, heals, elections (clean,
     unclean, ELR), ISR shrinks and expands, controller changes, rebalances,
     transactions and anomalies, each with what it means (ksim.story);
  3. plots (ksim.report_plots): per partition, every replica's log end offset
     and the high watermark, ISR size, leader and leader epoch; consumer lag
     per group and partition; produce latency percentiles and throughput;
     fault windows shaded, anomalies marked;
  4. `kafka-topics --describe` and `kafka-consumer-groups --describe` tables
     at the start, after each fault and at the end (ksim.groups).
Self-contained: CSS inline, images as base64 data URIs, no script, no link
out. Caps keep a big run readable: at most MAX_PARTITION_PLOTS partition plots
(the topics' own partitions first, internal topics only when there is nothing
else), MAX_STORY_ROWS story rows (internal topics' elections and ISR changes
folded per second), MAX_INSTANTS describe instants; the page says what it left
out. Exit status: 0 written, 2 bad input (not a run file, missing file).
"""
import html
import os
import sys
import time

from .groups import describe_groups, format_group
from .run_db import RunDb, RunDbError
from .story import fault_windows, story

MAX_PARTITION_PLOTS = 6
MAX_STORY_ROWS = 400
MAX_INSTANTS = 6
MAX_ANOMALY_ROWS = 10  # per kind, in the story (the verdict table counts them all)

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px;
       padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
.verdict { display: inline-block; padding: 0.3em 0.8em; border-radius: 4px; font-weight: bold; color: white; }
.ok { background: #2e7d32; } .violated { background: #c62828; } .unchecked { background: #757575; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
td, th { border: 1px solid #ddd; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
table.story td.t { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.k { font-size: 0.8em; padding: 0.1em 0.4em; border-radius: 3px; white-space: nowrap; background: #eee; }
.k-fault, .k-unclean, .k-offline { background: #ffcdd2; } .k-heal { background: #c8e6c9; }
.k-election, .k-elr { background: #bbdefb; } .k-isr-shrink { background: #ffe0b2; } .k-isr-expand { background: #dcedc8; }
.k-controller { background: #d1c4e9; } .k-anomaly { background: #e53935; color: white; }
.k-rebalance, .k-group { background: #b2ebf2; } .k-transaction { background: #f0f4c3; }
.why { color: #555; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
.note { color: #666; font-size: 0.9em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; font-family: monospace; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _secs(ms):
    return f"{ms / 1000:.3f} s"


# ---- sections -----------------------------------------------------------------------------------

def _verdict_section(run):
    verdict = run.info.get("verdict")
    cls, word = {"ok": ("ok", "VERDICT: ok"), "violated": ("violated", "VERDICT: VIOLATED")}.get(
        verdict, ("unchecked", "not checked (the run never called check())"))
    out = [f'<p><span class="verdict {cls}">{_e(word)}</span></p>']
    facts = [("seed", run.info.get("seed", "?")), ("trace hash", run.info.get("trace_hash", "?")),
             ("reproduce", run.reproduce()), ("virtual time", _secs(run.end_ms)),
             ("nodes", f"{run.brokers} brokers" + (f", {run.controllers} KRaft controllers" if run.controllers
                                                   else " (combined-mode controllers)")
              + (f", {len(run.client_names)} client{'s' if len(run.client_names) > 1 else ''}"
                 if run.client_names else "")),
             ("scenario", run.info.get("scenario", "(a script)"))]
    config = sorted((k[7:], v) for k, v in run.info.items() if k.startswith("config:"))
    if config:
        facts.append(("config", ", ".join(f"{k}={v}" for k, v in config)))
    out.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>")
    rows = run.query("select kind, expected, cause, explanation, at_ms from anomalies order by at_ms, rowid") \
        if run.has("anomalies") else []
    if verdict is None:
        return "\n".join(out)
    if not rows:
        out.append("<p>Every checker passed: no anomaly of any kind (no lost or duplicated acknowledged write, no "
                   "reordering, no divergence of replicas, ...).</p>")
        return "\n".join(out)
    kinds = {}
    for kind, expected, cause, explanation, at in rows:
        k = kinds.setdefault(kind, {"violations": 0, "expected": 0, "first": None})
        k["expected" if expected else "violations"] += 1
        if k["first"] is None or (not expected and k["first"][0]):
            k["first"] = (expected, cause, explanation, at)
    out.append("<table><tr><th>anomaly kind</th><th>violations</th><th>expected</th><th>first example</th></tr>")
    for kind, k in sorted(kinds.items()):
        expected, cause, explanation, at = k["first"]
        lines = (explanation or "").split("\n")
        sentence = (f"At t={at / 1000:.3f} s: {lines[0]} "
                    + (f"Kafka permits this: {cause}." if expected else "Kafka promises this cannot happen."))
        rest = "\n".join(lines[1:])
        out.append(f"<tr><td><b>{_e(kind)}</b></td><td>{k['violations']}</td><td>{k['expected']}</td>"
                   f"<td>{_e(sentence)}" + (f"<pre>{_e(rest)}</pre>" if rest.strip() else "") + "</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _fold_internal(events):
    """Internal topics' elections and ISR changes folded per (kind, topic, virtual second): one row each; at most
    MAX_ANOMALY_ROWS anomalies of a kind (a broken run can have thousands)."""
    out, folded, per_kind = [], {}, {}
    for e in events:
        if e.kind == "anomaly":
            kind = e.extra.get("kind")
            per_kind[kind] = per_kind.get(kind, 0) + 1
            if per_kind[kind] > MAX_ANOMALY_ROWS:
                continue
        if e.topic.startswith("__") and e.kind in ("election", "elr", "isr-shrink", "isr-expand", "offline"):
            key = (e.kind, e.topic, int(e.at_ms // 1000))
            if key in folded:
                folded[key].extra["n"] += 1
                continue
            e.extra["n"] = 1
            folded[key] = e
        out.append(e)
    for e in folded.values():
        if e.extra["n"] > 1:
            e.text = f"{e.topic}: {e.extra['n']} partitions ({e.kind}), e.g. {e.text}"
    for kind, n in sorted(per_kind.items()):
        if n > MAX_ANOMALY_ROWS:
            last = [e for e in out if e.kind == "anomaly" and e.extra.get("kind") == kind][-1]
            last.why += f" (and {n - MAX_ANOMALY_ROWS} more {kind} anomalies, not listed here)"
    return out


def _story_section(events):
    rows = _fold_internal(events)
    out = ['<table class="story"><tr><th>t (s)</th><th>what</th><th>happened</th><th>what it means</th></tr>']
    for e in rows[:MAX_STORY_ROWS]:
        out.append(f'<tr><td class="t">{e.at_ms / 1000:.3f}</td><td><span class="k k-{_e(e.kind)}">{_e(e.kind)}'
                   f'</span></td><td>{_e(e.text)}</td><td class="why">{_e(e.why)}</td></tr>')
    out.append("</table>")
    if len(rows) > MAX_STORY_ROWS:
        out.append(f'<p class="note">... and {len(rows) - MAX_STORY_ROWS} more events (the first {MAX_STORY_ROWS} '
                   "are shown; the run store's events and ops tables hold them all).</p>")
    if not rows:
        out.append('<p class="note">Nothing happened: no topic, fault or election was recorded.</p>')
    return "\n".join(out)


def _plot_partitions(run):
    parts = [(t, p) for (t, p) in run.partitions_at(None)]
    user = [tp for tp in parts if not tp[0].startswith("__")]
    chosen = user or parts
    return chosen[:MAX_PARTITION_PLOTS], len(chosen)


def _plots_section(run, events):
    from . import report_plots as plots  # matplotlib only when a page is drawn

    windows = fault_windows(run)
    anomalies = [e for e in events if e.kind == "anomaly"][:50]  # the first 50 are drawn
    out = []
    chosen, total = _plot_partitions(run)
    out.append("<h3>Partitions: log end offsets, high watermark, ISR, leader</h3>")
    out.append('<p class="note">Log end offsets and the high watermark are the cluster\'s 1 s samples (a step '
               "holds until the next change; a gap: the replica was down or the leader unknown), raised between "
               "samples by what the history proves (a send acknowledged by a broker: its log reached that offset; "
               "an acks=all acknowledgement or a fetch: the high watermark did); each replica's last point is its "
               "log at the end of the run. Grey dots: acknowledged sends at their offsets. ISR size, leader and "
               "epoch are exact (the controller's elections and ISR changes). Shaded: fault windows. Red: "
               "anomalies (a cross at the offsets involved).</p>")
    if total > len(chosen):
        out.append(f'<p class="note">{len(chosen)} of {total} partitions drawn (the first ones); '
                   "<code>ksim describe RUN.db --at MS</code> and the partition_states table have the rest.</p>")
    for topic, partition in chosen:
        out.append(f'<img alt="partition {_e(topic)}-{partition}" src="{plots.partition_plot(run, topic, partition, windows, anomalies)}">')
    if windows:
        out.append("<p class=\"note\">Fault windows: " + "; ".join(
            f"{_e(label)} {a / 1000:.3f}&ndash;{b / 1000:.3f} s" for a, b, label in windows) + "</p>")
    lag, capped = plots.lag_plot(run, windows, anomalies)
    out.append("<h3>Consumer lag</h3>")
    if lag:
        out.append('<p class="note">Each consumer\'s fetch lag (Kafka\'s records-lag): the high watermark its '
                   "fetch saw minus its position after the poll, per group and partition; a point per poll that "
                   "returned records." + (" Capped at 4 groups and 8 partitions each." if capped else "") + "</p>")
        out.append(f'<img alt="consumer lag" src="{lag}">')
    else:
        out.append('<p class="note">No consumer group polled records in this run.</p>')
    out.append("<h3>Produce latency and throughput</h3>")
    produce = plots.produce_plot(run, windows, anomalies)
    if produce:
        out.append(f'<img alt="produce latency and throughput" src="{produce}">')
    else:
        out.append('<p class="note">No send was recorded in this run.</p>')
    return "\n".join(out)


def instants(run, events):
    """[(at_ms or None, label)]: after the topics were created, after each fault (just before the next fault or
    heal, when its effect has played out), and the end; at most MAX_INSTANTS."""
    created = [e.at_ms for e in events if e.kind == "created" and not e.topic.startswith("__")]
    out = []
    if created:
        out.append((max(created), "after the topics were created"))
    marks = sorted(e.at_ms for e in events if e.kind in ("fault", "heal"))
    for e in events:
        if e.kind != "fault":
            continue
        later = [m for m in marks if m > e.at_ms]
        at = (later[0] - 0.001) if later else None
        if at is not None:
            out.append((at, f"after: {e.text} (t={e.at_ms / 1000:.3f} s), just before the next fault or heal"))
    dropped = max(0, len(out) - (MAX_INSTANTS - 1))
    out = out[:MAX_INSTANTS - 1] + [(None, "the end of the run")]
    return out, dropped


def _tables_section(run, events):
    moments, dropped = instants(run, events)
    out = ['<p class="note">As Kafka\'s tools print them. Topics: the partitions as the elections and ISR changes '
           "left them (<code>ksim describe RUN.db --at MS</code>; internal topics left out). Groups: committed "
           "offsets, the high watermark (1 s samples) and the partition's owner "
           "(<code>ksim consumer-groups RUN.db --describe --at MS</code>).</p>"]
    if dropped:
        out.append(f'<p class="note">{dropped} later instant(s) left out (at most {MAX_INSTANTS}).</p>')
    for at, label in moments:
        when = f"t={at / 1000:.3f} s" if at is not None else f"t={run.end_ms / 1000:.3f} s"
        out.append(f"<h3>{_e(when)}: {_e(label)}</h3>")
        out.append("<p><code>kafka-topics --describe</code></p>")
        out.append(f"<pre>{_e(run.describe_topics(at, include_internal=False))}</pre>")
        groups = describe_groups(run, None, at)
        if groups:
            text = "".join(format_group(g, rows) for g, rows in groups.items())
            out.append("<p><code>kafka-consumer-groups --describe</code></p>")
            out.append(f"<pre>{_e(text.strip(chr(10)))}</pre>")
    return "\n".join(out)


def build_report(path):
    """The page's HTML text (raises RunDbError on a bad run file)."""
    run = RunDb(path)
    events = story(run)
    title = os.path.basename(run.info.get("scenario") or path)
    if run.info.get("scenario") == "ksim demo":
        title = "ksim demo"
    body = [f"<h1>ksim run report: {_e(title)}</h1>",
            f'<p class="note">From the run store {_e(os.path.basename(path))}. Times are virtual (the simulation\'s '
            "clock), from the cluster's start.</p>",
            "<h2>Verdict</h2>", _verdict_section(run),
            "<h2>The story</h2>", _story_section(events),
            "<h2>Plots</h2>", _plots_section(run, events),
            "<h2>Topics and consumer groups at chosen instants</h2>", _tables_section(run, events)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>ksim report: {_e(title)} (seed {_e(run.info.get('seed', '?'))})</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python3 -m ksim.html_report RUN.db OUT.html", file=sys.stderr)
        return 2
    src, dst = argv
    start = time.perf_counter()
    try:
        page = build_report(src)
    except RunDbError as e:
        print(f"ksim report: {e}", file=sys.stderr)
        return 2
    try:
        with open(dst, "w", encoding="utf-8") as f:
            f.write(page)
    except OSError as e:
        print(f"ksim report: cannot write {dst}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"html report: {dst} ({len(page) // 1024} KiB, {time.perf_counter() - start:.1f} s) — open it in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
