"""The timeline page: one HTML file, its CSS and JavaScript inline, the run's data as JSON.

Kept apart from the data (ksim.timeline_data) so the drawing can be read on
its own. The page needs no network and no library: SVG built as strings,
re-drawn whole at each instant (a few hundred elements: cheaper than
diffing), with every per-instant lookup a binary search in the precomputed
step functions. Its contract with the tests (tests/python/test_timeline.py):

  * `#t=MS` in the URL sets the instant; `#anomaly=I` clicks the I-th row of
    the anomaly list (then `&t=` may move on from there); `&internal=1` shows
    internal topics; `&bench=N` times N frames over the whole run; `&probes=1`
    adds, per node and replica row, a pixel whose colour is its fill;
  * after drawing, the element `#state` holds JSON of what was drawn (each
    partition's leader, epoch, ISR, HW, log ends; each node's status; the
    messages drawn) and `errors`, every window.onerror / console.error /
    unhandled rejection caught — the first script installs those hooks, so
    even a syntax error in the main script is counted.
"""
import json

CELLS_PER_LOG = 32  # offsets drawn per replica log; the rest is an ellipsis


def render(data):
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = "ksim timeline — " + (data["meta"].get("scenario") or "run").rsplit("/", 1)[-1]
    return (PAGE.replace("__TITLE__", _html_escape(title))
                .replace("__CELLS__", str(CELLS_PER_LOG))
                .replace("__DATA__", payload))


def _html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<script>
// Installed first, so that an error anywhere below (a syntax error in the main
// script included) is counted in #state rather than lost.
window.__errors = [];
window.onerror = function (msg, src, line) { window.__errors.push(String(msg) + " @" + line); };
window.addEventListener("unhandledrejection", function (e) { window.__errors.push("rejection: " + e.reason); });
(function () { var ce = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, " ")); ce.apply(console, arguments); }; })();
window.addEventListener("load", function () {
  if (!window.__drawn) { var s = document.getElementById("state");
    s.textContent = JSON.stringify({ready: false, errors: window.__errors.length, messages: window.__errors}); }
});
</script>
<style>
 body { font: 13px system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
 header { padding: 8px 12px; background: #263238; color: #eee; }
 header b { color: #fff; }
 #controls { display: flex; gap: 8px; align-items: center; padding: 6px 12px; background: #eceff1; flex-wrap: wrap; }
 #controls input[type=range] { flex: 1; min-width: 300px; }
 #clock { font: 600 15px ui-monospace, monospace; min-width: 140px; }
 button { font: inherit; padding: 2px 8px; }
 #main { display: grid; grid-template-columns: 520px minmax(0, 1fr); gap: 8px; padding: 8px 12px; }
 .panel { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 6px; overflow-x: auto; }
 h3 { margin: 2px 0 6px; font-size: 13px; }
 #events div, #anomalies div { padding: 1px 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
 #events .now { background: #fff3c4; }
 #events .future { color: #aaa; }
 #anomalies div { cursor: pointer; }
 #anomalies div:hover, #anomalies .sel { background: #ffe0e0; }
 .legend span { display: inline-block; margin-right: 10px; }
 .sw { display: inline-block; width: 10px; height: 10px; vertical-align: middle; margin-right: 3px; border: 1px solid #999; }
 #notes { color: #666; font-size: 12px; }
 svg text { font-family: system-ui, sans-serif; }
</style></head>
<body>
<header><b>ksim timeline</b> <span id="title"></span></header>
<div id="controls">
 <button id="play" title="play / pause (space)">▶ play</button>
 <select id="speed" title="virtual seconds per wall second">
  <option value="0.001">0.001×</option><option value="0.01">0.01×</option><option value="0.1">0.1×</option>
  <option value="1" selected>1×</option><option value="10">10×</option></select>
 <button id="prev" title="previous event (p)">◀ event</button><button id="next" title="next event (n)">event ▶</button>
 <input id="slider" type="range" min="0" step="0.01">
 <span id="clock"></span>
 <label><input id="internal" type="checkbox"> internal topics</label>
</div>
<div style="padding: 0 12px"><svg id="strip" width="100%" height="46"></svg></div>
<div id="main">
 <div>
  <div class="panel"><h3>Cluster: nodes and messages in flight</h3><svg id="cluster" width="500" height="330" viewBox="0 0 500 330"></svg>
   <div id="msgnote" class="legend"></div></div>
  <div class="panel" style="margin-top:8px"><h3>Story</h3><div id="events"></div></div>
  <div class="panel" style="margin-top:8px"><h3>Anomalies (click: jump and highlight)</h3><div id="anomalies"></div></div>
 </div>
 <div>
  <div class="panel"><h3>Partitions: every replica's log</h3>
   <div class="legend" id="legend"></div>
   <div id="partitions"></div></div>
  <div class="panel" style="margin-top:8px" id="notes"></div>
 </div>
</div>
<pre id="state" style="display:none"></pre>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const CAP = __CELLS__;
const END = D.meta.end;
const EPOCH_COLORS = ["#64b5f6", "#81c784", "#ffb74d", "#ba68c8", "#4db6ac", "#f06292", "#a1887f", "#90a4ae"];
const S = { t: 0, playing: false, anomaly: -1, internal: false, lastWall: 0 };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const fmt = (ms) => (ms / 1000).toFixed(3) + " s";
const epochColor = (e) => e < 0 ? "#ccc" : EPOCH_COLORS[e % EPOCH_COLORS.length];

// Index of the last entry with key <= t in a sorted array (of rows or numbers).
function bsearch(arr, t, key) {
  let lo = 0, hi = arr.length - 1, ans = -1;
  while (lo <= hi) { const mid = (lo + hi) >> 1; const v = key ? key(arr[mid]) : arr[mid];
    if (v <= t) { ans = mid; lo = mid + 1; } else hi = mid - 1; }
  return ans;
}
const at = (series, t, dflt) => { const i = bsearch(series, t, (r) => r[0]); return i >= 0 ? series[i] : dflt; };

// ---- precomputed indexes ------------------------------------------------------------------------
const NODES = D.nodes;
const nodeByIdx = {}; NODES.forEach((n) => nodeByIdx[n.idx] = n);
const nodeById = {}; NODES.forEach((n) => nodeById[n.id] = n);
const M = D.messages; const NMSG = M.t0.length;
const LONG = []; // messages in flight longer than 50 ms (held, or never delivered): scanned apart
for (let i = 0; i < NMSG; i++) { const t1 = M.t1[i] === null ? END : M.t1[i]; if (t1 - M.t0[i] > 50) LONG.push(i); }

// ---- layout of the cluster view -----------------------------------------------------------------
const servers = NODES.filter((n) => n.role !== "client"), clients = NODES.filter((n) => n.role === "client");
const POS = {};
servers.forEach((n, i) => { const a = -Math.PI / 2 + 2 * Math.PI * i / Math.max(1, servers.length);
  POS[n.idx] = [200 + 120 * Math.cos(a), 160 + 120 * Math.sin(a)]; });
clients.forEach((n, i) => { POS[n.idx] = [445, 24 + i * Math.min(40, 280 / Math.max(1, clients.length))]; });

function statusOf(n, t) { return at(n.status, t, [0, "up"])[1]; }
function activeFaults(t) { return D.faults.filter((f) => f.from <= t && (f.to === null || t < f.to)); }

function drawCluster(t, out) {
  const parts = [], faults = activeFaults(t);
  const leads = {};
  visiblePartitions().forEach((p) => { const s = at(p.state, t, null); if (s && s[1] > 0) (leads[s[1]] = leads[s[1]] || []).push(p.topic + "-" + p.partition); });
  // messages first, under the nodes
  const trail = Math.max(0.5, stepMs() * 0.5);
  const hi = bsearch(M.t0, t);
  const shown = new Set(); let drawn = 0;
  const drawMsg = (i) => {
    if (shown.has(i) || drawn >= 400) return; const t0 = M.t0[i], t1 = M.t1[i] === null ? END : M.t1[i];
    if (t0 > t || t > t1 + trail) return; shown.add(i);
    const a = POS[M.src[i]], b = POS[M.dst[i]]; if (!a || !b) return; drawn++;
    const f = t1 > t0 ? Math.min(1, (t - t0) / (t1 - t0)) : 1;
    const x = a[0] + (b[0] - a[0]) * f, y = a[1] + (b[1] - a[1]) * f;
    const resp = M.kind[i] >> 16, fate = M.fate[i], done = t >= t1;
    const color = fate === 1 ? "#e53935" : resp ? "#43a047" : "#1e88e5";
    parts.push(`<line x1="${a[0]}" y1="${a[1]}" x2="${x}" y2="${y}" stroke="${color}" stroke-opacity="0.25"/>`);
    parts.push(`<circle cx="${x}" cy="${y}" r="${done ? 3 : 5}" fill="${color}" fill-opacity="${done ? 0.35 : 0.9}">` +
      `<title>${esc(D.kinds[M.kind[i]] ? D.kinds[M.kind[i]].label : M.kind[i])}: ${esc(nodeByIdx[M.src[i]] ? nodeByIdx[M.src[i]].label : M.src[i])} → ` +
      `${esc(nodeByIdx[M.dst[i]] ? nodeByIdx[M.dst[i]].label : M.dst[i])}, sent ${fmt(t0)}${fate === 1 ? ", dropped" : fate === 2 ? ", never delivered" : ""}</title></circle>`);
    if (fate === 1 && done) parts.push(`<text x="${x - 4}" y="${y + 4}" fill="#e53935" font-size="12">✗</text>`);
  };
  for (let i = hi; i >= 0 && M.t0[i] >= t - 50 - trail; i--) drawMsg(i);
  for (const i of LONG) { if (M.t0[i] > t) break; drawMsg(i); }
  // nodes
  NODES.forEach((n) => {
    const [x, y] = POS[n.idx], st = statusOf(n, t), r = n.role === "client" ? 10 : 26;
    const fill = st === "down" ? "#bdbdbd" : st === "paused" ? "#ffca28" : n.role === "controller" ? "#7e57c2" : n.role === "client" ? "#78909c" : "#43a047";
    out.nodes[n.label] = st;
    if (n.role === "client") {  // a small box with its name: clients only send and receive
      parts.push(`<rect x="${x - 45}" y="${y - 9}" width="90" height="18" rx="4" fill="${fill}" stroke="#333"><title>${esc(n.label)}: ${st}</title></rect>` +
        `<text x="${x}" y="${y + 4}" text-anchor="middle" font-size="9" fill="#fff">${esc(n.label.slice(0, 18))}${st !== "up" ? " · " + st : ""}</text>`);
      return;
    }
    parts.push(`<circle data-probe="${esc(n.label)}" cx="${x}" cy="${y}" r="${r}" fill="${fill}" stroke="#333"><title>${esc(n.label)}: ${st}</title></circle>`);
    parts.push(`<text x="${x}" y="${y + 4}" text-anchor="middle" font-size="12" fill="#fff" font-weight="600">${(n.role === "controller" ? "C" : "B") + n.id}</text>`);
    if (st !== "up") parts.push(`<text x="${x}" y="${y - r - 4}" text-anchor="middle" font-size="11" fill="#b71c1c">${st}</text>`);
    const nf = faults.filter((f) => f.node === n.id && !/^(crash|power_fail|controlled)/.test(f.what)).map((f) => f.what)
      .concat(recentMarks(n, t));
    const lines = (leads[n.id] ? ["leads " + leads[n.id].slice(0, 2).join(", ") + (leads[n.id].length > 2 ? "…" : "")] : []).concat(nf);
    lines.forEach((l, k) => parts.push(`<text x="${x}" y="${y + r + 13 + 12 * k}" text-anchor="middle" font-size="10" fill="${k < (leads[n.id] ? 1 : 0) ? "#1b5e20" : "#b71c1c"}">${esc(l)}</text>`));
  });
  const net = faults.filter((f) => /^(partition|isolate)/.test(f.what));
  net.forEach((f, k) => parts.push(`<text x="6" y="${318 - 14 * k}" font-size="11" fill="#b71c1c">⚡ network ${esc(f.what)}${nodeById[f.node] ? " " + esc(nodeById[f.node].label) : ""}</text>`));
  $("cluster").innerHTML = parts.join("");
  out.messages = drawn;
}

// ---- partitions ----------------------------------------------------------------------------------
function visiblePartitions() { return D.partitions.filter((p) => S.internal || !p.internal).slice(0, 40); }

// The runs alive at t that overlap [lo, hi): alive runs increase in base with
// write time (a truncation ends a suffix), so scan back from the newest one
// written at or before t and stop at the first alive run starting at or below lo.
function cellsAt(log, t, lo, hi) {
  const runs = log.runs, cells = [];
  for (let i = bsearch(runs, t, (r) => r[0]); i >= 0; i--) {
    const r = runs[i]; if (r[1] !== null && r[1] <= t) continue;
    for (let o = Math.max(r[2], lo); o <= Math.min(r[3], hi - 1); o++) cells.push([o, r]);
    if (r[2] <= lo) break;
  }
  return cells;
}

function drawPartitions(t, out) {
  const html = [], sel = S.anomaly >= 0 ? D.anomalies[S.anomaly] : null;
  const ps = visiblePartitions();
  ps.forEach((p) => {
    const st = at(p.state, t, [0, -1, -1, []]), leader = st[1], epoch = st[2], isr = st[3];
    const leos = {}; let maxLeo = 0;
    p.replicas.forEach((b) => { const l = p.logs[b]; const v = l ? at(l.leo, t, [0, 0])[1] : 0; leos[b] = v; maxLeo = Math.max(maxLeo, v); });
    let hw = at(p.hw, t, [0, -1])[1];
    if (leader > 0 && leos[leader] !== undefined) hw = Math.min(hw, leos[leader]);
    let lo = Math.max(0, maxLeo - CAP);
    if (hw >= 0 && hw < lo + CAP / 4) lo = Math.max(0, hw - CAP / 4);
    const mark = sel && sel.topic === p.topic && sel.partition === p.partition ? new Set(sel.offsets) : null;
    if (mark && sel.offsets.length && (sel.offsets[0] < lo || sel.offsets[0] >= lo + CAP)) lo = Math.max(0, sel.offsets[0] - CAP / 2);
    const hiOff = lo + CAP, LW = 175, CW = 19, RH = 22, W = LW + CW * CAP + 70;
    const H = 34 + RH * p.replicas.length + 14;
    const svg = [`<svg width="${W}" height="${H}">`];
    const name = p.topic + "-" + p.partition;
    svg.push(`<text x="2" y="13" font-weight="600">${esc(name)}</text><text x="${LW}" y="13" font-size="12">` +
      `leader ${leader > 0 ? "broker " + leader : "none"} · epoch ${epoch} · ISR {${isr.join(",")}} · HW ${hw >= 0 ? hw : "?"}</text>`);
    const x = (o) => LW + (o - lo) * CW;
    let cellsDrawn = 0;
    p.replicas.forEach((b, k) => {
      const y = 24 + k * RH, n = nodeById[b], status = n ? statusOf(n, t) : "up", inIsr = isr.indexOf(b) >= 0;
      svg.push(`<rect data-probe="${esc(name)}/${b}" x="0" y="${y}" width="${LW - 6}" height="${RH - 3}" rx="3" fill="${inIsr ? "#e8f5e9" : "#fbe9e7"}" stroke="${inIsr ? "#66bb6a" : "#ef9a9a"}"/>`);
      svg.push(`<text x="4" y="${y + 14}" font-size="12">${b === leader ? "★ " : ""}broker ${b}${inIsr ? " · ISR" : " · out"}${status !== "up" ? " · " + status : ""}</text>`);
      if (lo > 0) svg.push(`<text x="${LW - 2}" y="${y + 14}" font-size="11" text-anchor="end" fill="#888">…</text>`);
      const log = p.logs[b];
      if (log) cellsAt(log, t, lo, hiOff).forEach(([o, r]) => {
        const lost = r[5] & 2, approx = r[5] & 1, committed = hw >= 0 && o < hw;
        const val = r[6] ? r[6][o - r[2]] : (lost ? null : p.values[o]);
        const hl = mark && mark.has(o);
        svg.push(`<rect x="${x(o) + 1}" y="${y + 1}" width="${CW - 2}" height="${RH - 5}" fill="${epochColor(r[4])}" fill-opacity="${committed ? 1 : 0.45}"` +
          ` stroke="${hl ? "#d50000" : lost ? "#b71c1c" : "#555"}" stroke-width="${hl ? 3 : lost ? 1.5 : 0.5}"${approx ? ' stroke-dasharray="2,2"' : ""}>` +
          `<title>${esc(name)} broker ${b} offset ${o}, epoch ${r[4]}${val != null ? ", value " + esc(val) : ""}; written ${fmt(r[0])}` +
          `${r[1] !== null ? "; truncated away at " + fmt(r[1]) : ""}${approx ? " (approximate)" : ""}${committed ? "" : "; above the HW"}</title></rect>`);
        // The offset in the cell: whole up to 9999 (smaller type from 1000), else its last 3 digits.
        svg.push(`<text x="${x(o) + CW / 2}" y="${y + 12}" font-size="${o < 1000 ? 8 : 6.5}" text-anchor="middle" fill="#222">${o < 10000 ? o : "…" + String(o % 1000).padStart(3, "0")}</text>`);
        cellsDrawn++;
      });
      const leo = leos[b];
      const lx = x(Math.min(Math.max(leo, lo), hiOff));
      svg.push(`<path d="M${lx},${y + RH - 4} l-4,6 h8 z" fill="#37474f"><title>broker ${b} LEO ${leo}</title></path>`);
      svg.push(`<text x="${x(hiOff) + 4}" y="${y + 14}" font-size="11" fill="#555">LEO ${leo}${leo > hiOff ? " …" : ""}</text>`);
    });
    if (hw >= lo && hw <= hiOff) {
      svg.push(`<line x1="${x(hw)}" y1="20" x2="${x(hw)}" y2="${24 + RH * p.replicas.length}" stroke="#d81b60" stroke-width="2"/>` +
        `<text x="${x(hw) + 2}" y="${24 + RH * p.replicas.length + 11}" font-size="11" fill="#d81b60">HW ${hw}</text>`);
    }
    svg.push("</svg>");
    html.push(svg.join(""));
    out.partitions[name] = { leader: leader, epoch: epoch, isr: isr, hw: hw, leo: leos, window: [lo, hiOff], cells: cellsDrawn };
  });
  if (D.partitions.filter((p) => S.internal || !p.internal).length > ps.length) html.push(`<div>… only the first ${ps.length} partitions are drawn</div>`);
  $("partitions").innerHTML = html.join("");
}

// ---- the strip under the slider: faults, elections, voter changes, anomalies ----------------------
// Instant operator actions on a node, shown under it for MARK_MS after they happen:
// a disk replaced (sim.wipe) and a voter change.
const MARK_MS = 2000;
function recentMarks(n, t) {
  const recent = (at) => at <= t && t - at < MARK_MS;
  return D.faults.filter((f) => f.node === n.id && /^wipe/.test(f.what) && f.to === f.from && recent(f.from))
    .map(() => "disk replaced (empty)")
    .concat(D.events.filter((e) => e.node === n.id && isVoterChange(e) && recent(e.at))
      .map((e) => e.text.replace(/^note: /, "").replace(/ \(directory .*$/, "")));
}
// A KRaft voter added or removed (KIP-853): an operator's note in the history.
function isVoterChange(e) { return e.type === "note" && /^(add|remove)_voter/.test(e.text.replace(/^note: /, "")); }
function drawStrip() {
  const w = $("strip").getBoundingClientRect().width || 1000, X = (ms) => 4 + (w - 8) * ms / Math.max(1, END);
  const parts = [`<rect x="0" y="0" width="${w}" height="46" fill="#fff"/>`];
  D.faults.forEach((f, k) => { const x0 = X(f.from), x1 = X(f.to === null ? END : f.to);
    parts.push(`<rect x="${x0}" y="${4 + (k % 3) * 8}" width="${Math.max(2, x1 - x0)}" height="7" fill="#ef9a9a"><title>${esc(f.what)}${nodeById[f.node] ? " " + esc(nodeById[f.node].label) : ""}: ${fmt(f.from)} – ${f.to === null ? "end" : fmt(f.to)}</title></rect>`); });
  D.events.forEach((e) => { if (e.internal || (e.type !== "election" && e.type !== "isr_change" && !isVoterChange(e))) return;
    const color = isVoterChange(e) ? "#6a1b9a" : e.unclean ? "#d50000" : e.type === "election" ? "#1565c0" : "#2e7d32";
    parts.push(`<line class="${isVoterChange(e) ? "voter-change" : e.type}" x1="${X(e.at)}" y1="28" x2="${X(e.at)}" y2="38" stroke="${color}" stroke-width="2"><title>${fmt(e.at)} ${esc(e.text)}</title></line>`); });
  D.anomalies.forEach((a) => parts.push(`<path d="M${X(a.at)},38 l4,4 l-4,4 l-4,-4 z" fill="${a.expected ? "#fb8c00" : "#d50000"}"><title>${esc(a.kind)} at ${fmt(a.at)}</title></path>`));
  parts.push(`<line id="cursor" x1="${X(S.t)}" y1="0" x2="${X(S.t)}" y2="46" stroke="#000"/>`);
  $("strip").innerHTML = parts.join("");
  $("strip").onclick = (ev) => { const r = $("strip").getBoundingClientRect(); seek((ev.clientX - r.left - 4) / (r.width - 8) * END); };
}

function drawEvents(t) {
  const evs = D.events.filter((e) => S.internal || !e.internal);
  const i = bsearch(evs, t, (e) => e.at);
  const from = Math.max(0, i - 7), rows = [];
  for (let k = from; k < Math.min(evs.length, i + 4); k++) {
    const e = evs[k];
    rows.push(`<div class="${k === i ? "now" : k > i ? "future" : ""}">${fmt(e.at)} ${esc(e.text)}</div>`);
  }
  $("events").innerHTML = rows.join("") || "<div>(no events)</div>";
}

function drawAnomalies() {
  $("anomalies").innerHTML = D.anomalies.length ? D.anomalies.map((a, k) =>
    `<div data-k="${k}" class="${k === S.anomaly ? "sel" : ""}" title="${esc(a.explanation)}">${fmt(a.at)} <b>${esc(a.kind)}</b>` +
    `${a.expected ? " (expected: " + esc(a.cause) + ")" : " VIOLATION"} ${esc(a.topic)}-${a.partition} offsets ${esc(a.offsets.join(","))}</div>`).join("")
    : "<div>none: verdict " + esc(D.meta.verdict) + "</div>";
  document.querySelectorAll("#anomalies div[data-k]").forEach((el) => el.onclick = () => selectAnomaly(+el.dataset.k));
}

function selectAnomaly(k) { S.anomaly = k; drawAnomalies(); seek(D.anomalies[k].at); }

// ---- one instant -----------------------------------------------------------------------------------
function draw() {
  const started = performance.now();
  const t = S.t, out = { ready: true, t: t, nodes: {}, partitions: {}, messages: 0 };
  $("clock").textContent = "t = " + (t / 1000).toFixed(6) + " s";
  $("slider").value = t;
  drawCluster(t, out);
  drawPartitions(t, out);
  drawEvents(t);
  const c = $("cursor"); if (c) { const w = $("strip").getBoundingClientRect().width || 1000, x = 4 + (w - 8) * t / Math.max(1, END); c.setAttribute("x1", x); c.setAttribute("x2", x); }
  out.draw_ms = +(performance.now() - started).toFixed(2);
  if (S.probes) out.probes = probes();
  if (S.bench) out.bench = S.bench;
  out.anomaly = S.anomaly; out.errors = window.__errors.length; out.error_messages = window.__errors.slice(0, 5);
  $("state").textContent = JSON.stringify(out);
  window.__drawn = true;
}

// #probes=1: for each node circle and replica row, a viewport point inside it
// whose colour is the fill (below a circle's label, at a row's right end), so
// a screenshot can be checked pixel by pixel against what the story says.
function probes() {
  const out = {};
  document.querySelectorAll("[data-probe]").forEach((el) => {
    const r = el.getBoundingClientRect();
    out[el.dataset.probe] = el.tagName === "circle" ? [Math.round(r.left + r.width / 2), Math.round(r.top + r.height * 0.8)]
      : [Math.round(r.right - 4), Math.round(r.top + r.height / 2)];
  });
  return out;
}

function stepMs() { return Math.max(0.01, +$("speed").value * 16); }
function seek(t) { S.t = Math.max(0, Math.min(END, t)); draw(); scheduleHash(); }
let hashTimer = 0;
function scheduleHash() { clearTimeout(hashTimer); hashTimer = setTimeout(() => {
  const h = "#t=" + S.t.toFixed(3) + (S.anomaly >= 0 ? "&anomaly=" + S.anomaly : "") + (S.internal ? "&internal=1" : "");
  if (location.hash !== h) history.replaceState(null, "", h); }, 300); }
function readHash() {
  const q = {}; location.hash.replace(/^#/, "").split("&").forEach((kv) => { const [k, v] = kv.split("="); if (k) q[k] = v; });
  if (q.internal) { S.internal = q.internal === "1"; $("internal").checked = S.internal; }
  // #anomaly=I clicks that row of the list: the very handler a reader's click runs.
  const row = q.anomaly !== undefined && document.querySelector(`#anomalies div[data-k="${+q.anomaly}"]`);
  if (row) row.click();
  if (q.t !== undefined && isFinite(+q.t)) S.t = Math.max(0, Math.min(END, +q.t));
  if (q.bench) bench(+q.bench);
  if (q.probes) S.probes = true;
}
// #bench=N: draw N instants spread over the run (a scrub end to end) and keep
// the mean and worst wall time of a frame, for the fluidity figure.
function bench(n) {
  const keep = S.t, times = [];
  for (let k = 0; k < n; k++) { S.t = END * k / Math.max(1, n - 1); const a = performance.now(); draw(); times.push(performance.now() - a); }
  S.t = keep;
  S.bench = { frames: n, mean_ms: +(times.reduce((a, b) => a + b, 0) / n).toFixed(2), max_ms: +Math.max(...times).toFixed(2) };
}
function tick(now) {
  if (!S.playing) return;
  const dt = S.lastWall ? now - S.lastWall : 0; S.lastWall = now;
  S.t = Math.min(END, S.t + dt * +$("speed").value);
  draw();
  if (S.t >= END) { setPlaying(false); return; }
  requestAnimationFrame(tick);
}
function setPlaying(on) { S.playing = on; $("play").textContent = on ? "❚❚ pause" : "▶ play";
  if (on) { if (S.t >= END) S.t = 0; S.lastWall = 0; requestAnimationFrame(tick); } else scheduleHash(); }
function jumpEvent(dir) {
  const evs = D.events.filter((e) => S.internal || !e.internal).map((e) => e.at);
  const next = dir > 0 ? evs.find((a) => a > S.t + 1e-6) : evs.slice().reverse().find((a) => a < S.t - 1e-6);
  if (next !== undefined) seek(next);
}

// ---- start ----------------------------------------------------------------------------------------
(function init() {
  const m = D.meta;
  $("title").textContent = `${(m.scenario || "run").split("/").pop()} · seed ${m.seed} · verdict ${m.verdict} · trace ${m.trace_hash} · ${fmt(m.end)} simulated`;
  $("slider").max = END;
  $("slider").oninput = () => seek(+$("slider").value);
  // Buttons give the focus back, so that space (play / pause) never also "clicks" one.
  $("play").onclick = (e) => { setPlaying(!S.playing); e.target.blur(); };
  $("prev").onclick = (e) => { jumpEvent(-1); e.target.blur(); };
  $("next").onclick = (e) => { jumpEvent(1); e.target.blur(); };
  $("internal").onchange = () => { S.internal = $("internal").checked; draw(); scheduleHash(); };
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "SELECT") return;
    if (e.key === " ") { setPlaying(!S.playing); e.preventDefault(); }
    else if (e.key === "ArrowRight" || e.key === "ArrowLeft") { seek(S.t + (e.key === "ArrowRight" ? 1 : -1) * (e.shiftKey ? 1000 : 10)); e.preventDefault(); }
    else if (e.key === "n") jumpEvent(1); else if (e.key === "p") jumpEvent(-1);
  });
  window.addEventListener("hashchange", () => { readHash(); draw(); });
  const used = new Set(); D.partitions.forEach((p) => Object.values(p.logs).forEach((l) => l.runs.forEach((r) => used.add(r[4]))));
  $("legend").innerHTML = [...used].sort((a, b) => a - b).map((e) => `<span><i class="sw" style="background:${epochColor(e)}"></i>epoch ${e}</span>`).join("") +
    `<span><i class="sw" style="background:#64b5f6;opacity:.45"></i>above the HW</span><span><i class="sw" style="border:2px solid #b71c1c"></i>truncated away later</span>` +
    `<span><i class="sw" style="border:1px dashed #555"></i>approximate</span><span style="color:#d81b60">| HW</span><span>▲ LEO</span><span>★ leader</span>`;
  $("msgnote").innerHTML = `<span><i class="sw" style="background:#1e88e5"></i>request</span><span><i class="sw" style="background:#43a047"></i>response</span>` +
    `<span><i class="sw" style="background:#e53935"></i>dropped</span><span>${NMSG} messages` +
    (m.window_start > 0 ? `, only from ${fmt(m.window_start)} (the trace's kept window)` : "") +
    (m.messages_cut ? `; the oldest ${m.messages_cut} left out (a page draws at most ${NMSG})` : "") + "</span>";
  $("notes").innerHTML = `Each log shows the last ${CAP} offsets (around the HW when it lags; ellipses mark the rest). ` +
    `Logs are replayed from the simulated disk's writes and truncations in the kernel trace; cells with a dashed border are estimated ` +
    `(written before the trace window, or truncated away before export: their count comes from the bytes written). ` +
    `The HW is exact at each 1 s sample and raised between samples by what clients were told. ` +
    `Message kinds are the network's ids (the run store does not name them). Keys: space play/pause, ←/→ 10 ms (shift: 1 s), n/p next/previous event.` +
    (m.window_start > 0 ? ` <b>The trace window starts at ${fmt(m.window_start)}</b> (${m.trace_events} of ${m.run_events} kernel events kept): before it, no messages and approximate logs.` : "");
  drawAnomalies();
  readHash();
  drawStrip();
  window.addEventListener("resize", drawStrip);
  draw();
})();
</script>
</body></html>
"""
