"""ksim.timeline: the interactive timeline page, driven in headless Chromium.

The story is scenarios/acks1_leader_crash.py at seed 3 (the run ./ksim run
writes): broker 1 leads orders-0 with ISR {1,2,3}; it acknowledges order-2
(acks=1) at offset 1 that no follower gets, and crashes at 1.640 s; the
controller fences it and elects broker 2 in epoch 1 with ISR {2,3} at
11.023 s; broker 1 restarts, truncates order-2 away (11.135 s) and rejoins:
ISR {1,2,3} at 11.141 s. The checkers report the loss as an expected
lost-write at offset 1.

Chromium is driven with plain command-line switches, no DevTools client: the
page takes its instant from the URL (#t=MS) and writes what it drew, and the
errors it caught, as JSON into #state; --dump-dom prints the DOM after the
script ran. Each launch costs ~1 s, so the tests share a few. The browser
gets a clean environment: under `make test-asan` this process runs with the
ASan runtime preloaded, which must not leak into Chromium.
"""
import html
import json
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest
from cli_binary import ROOT, ksim_bin  # this folder

from ksim import timeline, timeline_data, timeline_page

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium is not installed")

CRASH_MS = 1640.0
BEFORE, DOWN, FENCED, REJOINED = 1635.0, 5000.0, 11100.0, 11200.0
WINDOW = "--window-size=1300,800"  # the same layout for --dump-dom and --screenshot
GREEN_UP, GREY_DOWN = (0x43, 0xa0, 0x47), (0xbd, 0xbd, 0xbd)  # a broker's circle
IN_ISR, OUT_OF_ISR = (0xe8, 0xf5, 0xe9), (0xfb, 0xe9, 0xe7)  # a replica's row


def chromium(tmp_path_factory, url, *switches):
    """(stdout, stderr) of one headless Chromium run, with a fresh profile and a clean environment."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(profile), "LANG": "C.UTF-8"}
    r = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
         "--virtual-time-budget=5000", *switches, url],
        capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, r.stderr


def page_state(tmp_path_factory, page, fragment):
    """What the page drew at #fragment: (its #state JSON, the dumped DOM, Chromium's console lines)."""
    dom, err = chromium(tmp_path_factory, page.as_uri() + "#" + fragment, WINDOW, "--dump-dom")
    m = re.search(r'<pre id="state"[^>]*>(.*?)</pre>', dom, re.S)
    assert m, "no #state element in the dumped DOM"
    console = [line for line in err.splitlines() if ":CONSOLE" in line]
    return json.loads(html.unescape(m.group(1))), dom, console


def drawn_svg(dom):
    """The drawn markup: the cluster view and the partitions' logs."""
    cluster = re.search(r'<svg id="cluster".*?</svg>', dom, re.S).group(0)
    parts = re.search(r'<div id="partitions">(.*?)</div>\s*</div>', dom, re.S).group(1)
    return cluster + parts


def run_scenario(name, seed, out):
    """`ksim run scenarios/NAME.py --seed SEED --out OUT`; the run store it wrote."""
    r = subprocess.run([ksim_bin(), "run", str(ROOT / "scenarios" / f"{name}.py"), "--seed", str(seed),
                        "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return out / f"{name}-{seed}.db"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    db = run_scenario("acks1_leader_crash", 3, out)
    page = out / "timeline.html"
    r = subprocess.run([sys.executable, "-m", "ksim.timeline", str(db), str(page)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"timeline: {page} (1 partitions, ")
    return db, page


@pytest.fixture(scope="module")
def instants(story, tmp_path_factory):
    """The page's state, DOM and console at four instants of the story (four launches)."""
    if CHROMIUM is None:
        pytest.skip("Debian package chromium is not installed")
    _, page = story
    return {t: page_state(tmp_path_factory, page, f"t={t}&probes=1") for t in (BEFORE, DOWN, FENCED, REJOINED)}


# ---- without a browser ---------------------------------------------------------------------

def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("create table t (x)").connection.close()
    cases = {
        str(tmp_path / "missing.db"): "missing.db: no such file",
        str(text): "is not a ksim run store (file is not a database)",
        str(empty): "is not a ksim run store (no anomalies, events, ops, partition_states, polled_records, records, run, trace table)",
    }
    for path, message in cases.items():
        r = subprocess.run([sys.executable, "-m", "ksim.timeline", path, str(tmp_path / "out.html")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("ksim timeline: ") and message in r.stderr, r.stderr
        assert not (tmp_path / "out.html").exists()
    assert timeline.main([]) == 2


def test_a_store_with_unreadable_rows_is_one_line_and_exit_code_2(story, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(story[0].read_bytes())
    con = sqlite3.connect(junk)
    con.execute("update partition_states set log_end_offsets = 'a=b'")
    con.commit()
    con.close()
    r = subprocess.run([sys.executable, "-m", "ksim.timeline", str(junk), str(tmp_path / "out.html")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"ksim timeline: {junk}: unexpected content in the run store (ValueError: "), r.stderr


def test_the_replayed_log_keeps_the_write_truncated_away(story):
    """Broker 1's log at 1.635 s held order-2 at offset 1 (epoch 0), gone at 11.135 s: not a prefix of its final log."""
    data = timeline_data.load(str(story[0]))
    (orders,) = [p for p in data["partitions"] if not p["internal"]]
    assert orders["replicas"] == [1, 2, 3]
    runs = orders["logs"]["1"]["runs"]
    assert [(r[2], r[3], r[4], r[5], r[6]) for r in runs] == [(0, 0, 0, 0, None), (1, 1, 0, 3, ["order-2"])]
    assert runs[1][0] < CRASH_MS < 11134 < runs[1][1] < 11135
    assert [v for _, v in orders["logs"]["1"]["leo"]] == [1, 2, 1]
    assert [v for _, v in orders["logs"]["2"]["leo"]] == [1]
    assert [(s[1], s[2], s[3]) for s in orders["state"]] == [(1, 0, [1, 2, 3]), (2, 1, [2, 3]), (2, 1, [1, 2, 3])]
    assert [(a["kind"], a["offsets"], a["at"]) for a in data["anomalies"]] == [("lost-write", [1], CRASH_MS)]


def replay_mismatches(db):
    """Where the replayed logs disagree with the run store: every partition_states
    sample of a replica's log end offset (1 s apart), and every replica's log at
    export (offset and epoch of each record). Returns (samples compared, mismatches)."""
    data = timeline_data.load(str(db))
    con = sqlite3.connect(db)
    compared, bad = 0, []
    for p in data["partitions"]:
        samples = con.execute("select at_ms, log_end_offsets from partition_states where topic = ? and partition = ?",
                              (p["topic"], p["partition"])).fetchall()
        for b, log in p["logs"].items():
            alive = {o: r[4] for r in log["runs"] if r[1] is None for o in range(r[2], r[3] + 1)}
            final = dict(con.execute("select offset, leader_epoch from records where broker = ? and topic = ? "
                                     "and partition = ?", (int(b), p["topic"], p["partition"])))
            if alive != final:
                bad.append((p["topic"], p["partition"], b, "export"))
            for at, leos in samples:
                leo = dict(x.split("=") for x in leos.split(",") if "=" in x).get(b)
                if leo is None or int(leo) < 0:
                    continue  # the broker was down: no sample
                mine = [v for t, v in log["leo"] if t <= at]
                compared += 1
                if (mine[-1] if mine else 0) != int(leo):
                    bad.append((p["topic"], p["partition"], b, at, mine[-1:] , int(leo)))
    con.close()
    return compared, bad


def test_replayed_logs_agree_with_the_run_store_under_crashes_and_power_failures(story, tmp_path):
    """Power failures lose unsynced tails and restarted followers rewrite offsets: the
    replay must still match every 1 s sample and every final log."""
    import ksim
    sim = ksim.Simulation(seed=2, brokers=3, controllers=1, config={"unclean.leader.election.enable": "true"})
    sim.create_topic("orders", partitions=3, replication_factor=3)
    sim.workload("orders", producers=2, consumers=1, rate_per_s=200, duration_ms=20_000,
                 producer_config={"acks": "1"})
    sim.nemesis(ksim.nemesis.Random(kinds=["crash", "partition", "power_fail", "pause"], interval_ms=2_000))
    sim.run_for(20_000)
    sim.check()
    db = tmp_path / "nemesis.db"
    sim.export(str(db))
    kinds = {k for (k,) in sqlite3.connect(db).execute("select kind from trace where kind in ('disk_lost', 'disk_truncate')")}
    assert kinds == {"disk_lost", "disk_truncate"}  # the story this test needs did happen
    for path in (db, story[0]):
        compared, bad = replay_mismatches(path)
        assert compared > 0 and bad == [], bad[:5]


def test_a_divergent_write_keeps_its_own_epoch(tmp_path):
    """scenarios/partitioned_leader_fenced.py: the cut-off leader (broker 2, epoch 0)
    appends a record at offset 0 that times out; the new leader (broker 1, epoch 1)
    appends another at offset 0, of the same size. Broker 2's write must stay epoch 0
    and truncated, not be mistaken for the epoch-1 record at the same bytes."""
    r = subprocess.run([ksim_bin(), "run", str(ROOT / "scenarios" / "partitioned_leader_fenced.py"), "--seed", "1",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    data = timeline_data.load(str(tmp_path / "partitioned_leader_fenced-1.db"))
    (t0,) = [p for p in data["partitions"] if not p["internal"]]
    runs = [(r[2], r[3], r[4], r[5], r[6]) for r in t0["logs"]["2"]["runs"]]
    assert runs == [(0, 0, 0, 3, ["≈ to-the-old-leader"]), (0, 0, 1, 0, None)]
    assert [(r[2], r[4]) for r in t0["logs"]["1"]["runs"]] == [(0, 1)]
    assert t0["values"] == {"0": "to-the-new-leader"}


def test_without_a_kernel_trace_the_final_logs_are_dated_by_the_samples(story, tmp_path):
    bare = tmp_path / "bare.db"
    bare.write_bytes(story[0].read_bytes())
    con = sqlite3.connect(bare)
    con.execute("delete from trace")
    con.commit()
    con.close()
    data = timeline_data.load(str(bare))
    assert data["meta"]["window_start"] == data["meta"]["end"] == 11530.0
    assert data["messages"]["t0"] == []
    (orders,) = [p for p in data["partitions"] if not p["internal"]]
    # order-1 (offset 0) is in every final log, dated by the first sample showing it (the
    # only one, at 2 s) and drawn as estimated. Broker 1 was down at that sample: no
    # sample ever showed its log, so it appears only at the export.
    assert {b: [(r[0], r[2], r[3], r[5]) for r in log["runs"]] for b, log in orders["logs"].items()} == {
        "1": [(11530.0, 0, 0, 1)], "2": [(2000, 0, 0, 1)], "3": [(2000, 0, 0, 1)]}


def test_the_page_is_self_contained(story):
    text = story[1].read_text()
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', text)  # no script, style or image from a network
    assert '<script id="data" type="application/json">' in text and '"trace_hash":' in text
    assert f"const CAP = {timeline_page.CELLS_PER_LOG};" in text


# ---- in headless Chromium -----------------------------------------------------------------

@needs_chromium
def test_no_console_errors_at_any_instant(instants):
    for t, (state, _, console) in instants.items():
        assert state["ready"] is True and state["errors"] == 0, state
        assert console == [], console
        assert state["t"] == t


@needs_chromium
def test_the_isr_drawn_shrinks_after_the_crash_and_grows_back(instants):
    before, fenced, rejoined = (instants[t][0]["partitions"]["orders-0"] for t in (BEFORE, FENCED, REJOINED))
    assert (before["leader"], before["epoch"], before["isr"]) == (1, 0, [1, 2, 3])
    assert (fenced["leader"], fenced["epoch"], fenced["isr"]) == (2, 1, [2, 3])
    assert (rejoined["leader"], rejoined["epoch"], rejoined["isr"]) == (2, 1, [1, 2, 3])
    # Broker 1 holds the acks=1 write above the HW until it truncates it away.
    assert before["leo"] == {"1": 2, "2": 1, "3": 1} and before["hw"] == 1
    assert fenced["leo"]["1"] == 2 and rejoined["leo"] == {"1": 1, "2": 1, "3": 1}
    assert [before["cells"], fenced["cells"], rejoined["cells"]] == [4, 4, 3]
    assert instants[BEFORE][0]["nodes"]["broker 1"] == "up"
    down = instants[DOWN][0]
    assert down["nodes"]["broker 1"] == "down" and down["partitions"]["orders-0"]["isr"] == [1, 2, 3]
    assert instants[FENCED][0]["nodes"]["broker 1"] == "up"  # restarted at 11.030 s, not yet truncated


@needs_chromium
def test_scrubbing_changes_what_is_drawn(instants):
    svgs = [drawn_svg(instants[t][1]) for t in (BEFORE, DOWN, FENCED, REJOINED)]
    assert len(set(svgs)) == 4
    assert "★ broker 1 · ISR<" in svgs[0] and "★ broker 1 · ISR · down<" in svgs[1]
    assert "★ broker 2 · ISR<" in svgs[2] and "broker 1 · out<" in svgs[2] and "broker 1 · out" not in svgs[3]


@needs_chromium
def test_clicking_an_anomaly_jumps_to_it_and_outlines_its_records(story, tmp_path_factory):
    # #anomaly=0 makes the page click the first row of its anomaly list.
    state, dom, console = page_state(tmp_path_factory, story[1], "anomaly=0")
    assert console == [] and state["errors"] == 0
    assert state["anomaly"] == 0 and state["t"] == CRASH_MS
    assert state["nodes"]["broker 1"] == "down"
    # The one highlighted cell: offset 1 in broker 1's log (order-2).
    outlined = re.findall(r'stroke="#d50000" stroke-width="3"[^>]*><title>([^<]*)</title>', dom)
    assert len(outlined) == 1 and outlined[0].startswith("orders-0 broker 1 offset 1, epoch 0, value order-2")


@needs_chromium
def test_screenshots_at_three_instants_differ_as_the_story_says(story, instants, tmp_path_factory):
    """Pixels, not only bytes: broker 1's circle and its row in orders-0, read where
    the page says they are drawn (#probes=1, same window size as the screenshot)."""
    from PIL import Image  # python3-pil, a dependency of python3-matplotlib
    expected = {  # instant -> (broker 1's circle, broker 1's row, broker 2's row)
        BEFORE: (GREEN_UP, IN_ISR, IN_ISR),
        DOWN: (GREY_DOWN, IN_ISR, IN_ISR),  # crashed, not yet fenced: still in the ISR
        FENCED: (GREEN_UP, OUT_OF_ISR, IN_ISR),  # restarted, out of the ISR {2,3}
    }
    shots = []
    for t, colours in expected.items():
        png = tmp_path_factory.mktemp("shot") / f"t{int(t)}.png"
        chromium(tmp_path_factory, story[1].as_uri() + f"#t={t}", WINDOW, f"--screenshot={png}")
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        shots.append(data)
        probes = instants[t][0]["probes"]
        image = Image.open(png).convert("RGB")
        seen = tuple(image.getpixel(tuple(probes[k])) for k in ("broker 1", "orders-0/1", "orders-0/2"))
        assert seen == colours, (t, seen)
    assert len(set(shots)) == 3


# ---- a 60-simulated-second run: the page stays fluid ----------------------------------------

@needs_chromium
def test_a_sixty_second_run_scrubs_fluidly(tmp_path_factory):
    import ksim
    out = tmp_path_factory.mktemp("big")
    sim = ksim.Simulation(seed=3, brokers=3, controllers=1,
                          config={"min.insync.replicas": "2", "replica.lag.time.max.ms": "3000"})
    sim.create_topic("orders", partitions=1, replication_factor=3)
    sim.workload("orders", producers=1, consumers=1, rate_per_s=60, duration_ms=60_000,
                 producer_config={"acks": "all", "enable.idempotence": "true"})
    sim.run_for(20_000)
    sim.crash(1)
    sim.run_for(20_000)
    sim.restart(1)
    sim.run_for(20_000)
    assert sim.check().ok
    db, page = out / "big.db", out / "big.html"
    sim.export(str(db))
    data = timeline.write_timeline(str(db), str(page))
    assert data["meta"]["window_start"] == 0  # the whole run is in the kept trace
    compared, bad = replay_mismatches(db)
    assert compared > 600 and bad == [], bad[:5]
    assert len(data["messages"]["t0"]) > 20_000
    assert page.stat().st_size < 4_000_000
    # 120 frames spread over the run, then the state at 35 s (broker 1 down, fenced).
    state, _, console = page_state(tmp_path_factory, page, "t=35000&bench=120")
    assert console == [] and state["errors"] == 0
    orders = state["partitions"]["orders-0"]
    assert orders["isr"] == [2, 3] and orders["leader"] == 2 and orders["leo"]["1"] < orders["hw"]
    assert orders["cells"] <= 3 * timeline_page.CELLS_PER_LOG and orders["window"][1] - orders["window"][0] == 32
    assert state["bench"]["frames"] == 120
    assert state["bench"]["mean_ms"] < 50, state["bench"]  # measured ~2-5 ms a frame



@pytest.fixture(scope="module")
def replaced_disk(tmp_path_factory):
    """scenarios/replace_controller_disk.py at seed 1: controller 6's drive is replaced
    (sim.wipe) at 4.92 s; the operator removes its old directory from the voters at
    7.92 s and adds the new one at 7.93 s."""
    out = tmp_path_factory.mktemp("replaced")
    db = run_scenario("replace_controller_disk", 1, out)
    page = out / "timeline.html"
    timeline.write_timeline(str(db), str(page))
    return timeline_data.load(str(db)), page


def test_a_wipe_and_the_voter_changes_are_on_the_timeline(replaced_disk):
    data, _ = replaced_disk
    (wipe,) = [f for f in data["faults"] if f["what"].startswith("wipe")]
    # Wiping a running node restarts it at once: an instant, never an outage to the end.
    assert (wipe["node"], wipe["from"], wipe["to"]) == (6, 4920.0, 4920.0)
    voters = [(e["at"], e["node"], e["text"].split()[1]) for e in data["events"] if e["type"] == "note"]
    assert voters == [(7920.0, 6, "remove_voter"), (7930.0, 6, "add_voter")]


@needs_chromium
def test_the_replaced_disk_and_the_voter_change_are_drawn_under_the_controller(replaced_disk, tmp_path_factory):
    _, page = replaced_disk
    state, dom, console = page_state(tmp_path_factory, page, "t=5000")
    assert console == [] and state["errors"] == 0, (console, state)
    assert "disk replaced (empty)" in drawn_svg(dom)
    _, dom, _ = page_state(tmp_path_factory, page, "t=8000")
    assert "add_voter" in drawn_svg(dom) and "remove_voter" in drawn_svg(dom)
    assert 'class="voter-change"' in dom
    _, dom, _ = page_state(tmp_path_factory, page, "t=12000")
    assert "add_voter" not in drawn_svg(dom)  # a mark fades after two seconds
