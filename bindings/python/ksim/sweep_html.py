"""The sweep report as one self-contained HTML page.

    ksim sweep --report sweep.db --html OUT.html
    python3 -m ksim.sweep_html sweep.db OUT.html        # what the CLI runs

What `ksim sweep --report DB` prints (ksim.sweep), drawn: the verdict of
every seed (a strip: green as expected, red not, grey when the run raised or
never checked) and its wall time, the seeds per anomaly kind (violations and
expected), the table (failing seeds first, each with its reproduce command;
at most MAX_OK_ROWS seeds as expected), the kinds with their first seed,
recorded hash mismatches, and the probe coverage (fired / catalogued, the
most fired, the ones that never fired).

Throughput: the database keeps each seed's own wall time, not the sweep's
elapsed time (seeds run in parallel, and a database may gather several
sweeps), so the page gives seeds per second of worker time (seeds / the sum
of their wall times); a sweep with N workers went up to N times faster.
Exit status: 0 written, 2 not a sweep database / unwritable output.
"""
import base64
import html
import io
import sys

from .sweep import SweepError, load_rows, probe_coverage

MAX_OK_ROWS = 200
CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #222; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } tr.bad td { background: #ffebee; }
code, .mono { font-family: monospace; font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #eee; }
.note { color: #666; font-size: 0.9em; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _plot(rows):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = {}
    for r in rows:
        for kind, (v, e) in r["kinds"].items():
            k = kinds.setdefault(kind, [0, 0])
            k[0] += 1 if v else 0
            k[1] += 1 if e and not v else 0
    fig, (ax_seed, ax_kind) = plt.subplots(2, 1, figsize=(10, 5.5), gridspec_kw={"height_ratios": [1.2, 1]})
    colors = ["tab:gray" if (r["error"] or r["verdict"] == "-") else "tab:green" if r["ok"] else "tab:red"
              for r in rows]
    ax_seed.bar([r["seed"] for r in rows], [r["wall_s"] for r in rows], color=colors, width=1.0)
    ax_seed.set_xlabel("seed (green: as expected, red: not, grey: raised or never checked)")
    ax_seed.set_ylabel("wall s")
    ax_seed.set_title("every seed: its result and wall time", fontsize=10)
    names = sorted(kinds)
    if names:
        ax_kind.barh(names, [kinds[n][0] for n in names], color="tab:red", label="seeds with a violation")
        ax_kind.barh(names, [kinds[n][1] for n in names], left=[kinds[n][0] for n in names], color="tab:orange",
                     label="seeds with it only as expected")
        ax_kind.legend(fontsize=8, loc="lower right")
        ax_kind.set_xlabel("seeds")
    else:
        ax_kind.text(0.5, 0.5, "no anomaly in any seed", ha="center", va="center", transform=ax_kind.transAxes)
        ax_kind.set_axis_off()
    ax_kind.set_title("anomaly kinds", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _kinds_text(kinds):
    return " ".join(f"{k} {v}/{e}" for k, (v, e) in sorted(kinds.items()))


def build_page(db_path):
    rows, meta, mismatches = load_rows(db_path)
    ok = sum(1 for r in rows if r["ok"])
    work = sum(r["wall_s"] for r in rows)
    rate = f"{len(rows) / work:.1f} seeds per second of worker time" if work > 0 else "-"
    span = f"{rows[0]['seed']}..{rows[-1]['seed']}" if rows else "none"
    body = [f"<h1>ksim sweep report: {_e(meta.get('target', '?'))}</h1>",
            f'<p class="note">From the sweep database {_e(db_path)}; created {_e(meta.get("created", "?"))}'
            f'{", " + _e(meta["version"]) if meta.get("version") else ""}. Command: '
            f'<code>{_e(meta.get("command", "?"))}</code></p>',
            f"<h2>Verdicts</h2><p><b>{ok}/{len(rows)} seeds as expected</b> (seeds {_e(span)}); "
            f"{len(rows) - ok} not. {_e(rate)} (the sum of the seeds' wall times: {work:.1f} s).</p>"]
    if rows:
        body.append(f'<img alt="verdicts per seed and anomaly kinds" src="{_plot(rows)}">')
    failing = [r for r in rows if not r["ok"]]
    passing = [r for r in rows if r["ok"]]
    body.append("<h2>Seeds</h2><table><tr><th>seed</th><th>result</th><th>verdict</th><th>wall s</th>"
                "<th>kinds (violations/expected)</th><th>error / reproduce</th></tr>")
    for r in failing + passing[:MAX_OK_ROWS]:
        extra = " ".join(x for x in (f"error: {r['error']}" if r["error"] else "",
                                     r["reproduce"] if not r["ok"] else "") if x)
        body.append(f'<tr class="{"bad" if not r["ok"] else ""}"><td>{r["seed"]}</td>'
                    f'<td>{"as expected" if r["ok"] else "NOT as expected"}</td><td>{_e(r["verdict"])}</td>'
                    f'<td>{r["wall_s"]:.2f}</td><td class="mono">{_e(_kinds_text(r["kinds"]))}</td>'
                    f'<td class="mono">{_e(extra)}</td></tr>')
    body.append("</table>")
    if len(passing) > MAX_OK_ROWS:
        body.append(f'<p class="note">... and {len(passing) - MAX_OK_ROWS} more seeds as expected.</p>')
    groups = {}
    for r in rows:
        for kind, (v, e) in r["kinds"].items():
            g = groups.setdefault(kind, {"seeds": 0, "v": 0, "e": 0, "first": None})
            g["seeds"] += 1
            g["v"] += v
            g["e"] += e
            if g["first"] is None or (v and not g["first"]["kinds"][kind][0]):
                g["first"] = r
    body.append("<h2>By anomaly kind</h2>")
    if groups:
        body.append("<table><tr><th>kind</th><th>seeds</th><th>violations</th><th>expected</th><th>first seed</th>"
                    "<th>reproduce</th></tr>")
        for kind, g in sorted(groups.items()):
            body.append(f"<tr><td>{_e(kind)}</td><td>{g['seeds']}</td><td>{g['v']}</td><td>{g['e']}</td>"
                        f"<td>{g['first']['seed']}</td><td class=\"mono\">{_e(g['first']['reproduce'])}</td></tr>")
        body.append("</table>")
    else:
        body.append("<p>No anomaly in any seed.</p>")
    for m in mismatches:
        body.append(f"<p><b>HASH MISMATCH</b> recorded {_e(m['at'])}: seed {m['seed']} stored {_e(m['stored_hash'])}, "
                    f"re-run {_e(m['new_hash'])} (<code>{_e(m['command'])}</code>)</p>")
    cov = probe_coverage(rows)
    catalog, fired = cov["catalog"], cov["fired"]
    body.append("<h2>Probe coverage</h2>")
    if catalog:
        body.append(f"<p><b>{len(catalog) - len(cov['never'])}/{len(catalog)}</b> catalogued probes fired at least "
                    f"once over {len(rows)} seeds.</p>")
    else:
        body.append(f"<p>{len(fired)} probes fired (no probe catalogue in this build).</p>")
    if fired:
        body.append("<table><tr><th>probe</th><th>hits</th><th>seeds</th></tr>" + "".join(
            f"<tr><td class=\"mono\">{_e(n)}</td><td>{h}</td><td>{s}</td></tr>"
            for n, (h, s) in sorted(fired.items(), key=lambda kv: (-kv[1][0], kv[0]))) + "</table>")
    if cov["never"]:
        body.append(f"<p>Never fired ({len(cov['never'])}):</p><ul>" + "".join(
            f"<li><span class=\"mono\">{_e(n)}</span> <span class=\"note\">{_e(' '.join(catalog[n]))}</span></li>"
            for n in cov["never"]) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>ksim sweep: {_e(meta.get('target', '?'))}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python3 -m ksim.sweep_html SWEEP.db OUT.html", file=sys.stderr)
        return 2
    try:
        page = build_page(argv[0])
    except SweepError as e:
        print(f"ksim sweep: {e}", file=sys.stderr)
        return 2
    try:
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(page)
    except OSError as e:
        print(f"ksim sweep: cannot write {argv[1]}: {e.strerror}", file=sys.stderr)
        return 2
    print(f"sweep html report: {argv[1]} ({len(page) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
