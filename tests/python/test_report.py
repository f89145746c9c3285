"""The HTML run report (ksim report --html), ksim consumer-groups, the sweep
HTML report, demo --out, and their bad input.

One small run store per story, made once for the module (each run is a few
simulated seconds): the acks=1 leader crash (an expected lost-write), the
ELR scenario (an unclean election after the partition went offline), and
auto-commit duplicates (a consumer group)."""
import base64
import re
import sqlite3
import subprocess
import sys

import pytest
from cli_binary import ksim_bin  # this folder

ROOT = __import__("pathlib").Path(__file__).parents[2]
SCENARIOS = ROOT / "scenarios"


def ksim(*args, check=None, cwd=None):
    r = subprocess.run([ksim_bin(), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)
    if check is not None:
        assert r.returncode == check, r.stdout + r.stderr
    return r


def sql(db, query, params=()):
    return sqlite3.connect(db).execute(query, params).fetchall()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """name -> (run store, its HTML report's text)."""
    out = tmp_path_factory.mktemp("report")
    made = {}
    for name in ("acks1_leader_crash", "history_eligible_leader_replicas", "autocommit_duplicates"):
        ksim("run", SCENARIOS / f"{name}.py", "--seed", "1", "--out", out, check=0)
        db = out / f"{name}-1.db"
        page = out / f"{name}.html"
        r = ksim("report", db, "--html", page, check=0)
        assert f"html report: {page}" in r.stdout
        assert r.stdout.startswith("run: seed 1")  # the summary still comes first
        made[name] = (db, page.read_text())
    return made


def images(page):
    return re.findall(r'<img alt="([^"]*)" src="([^"]*)"', page)


def test_the_page_is_self_contained(stores):
    for db, page in stores.values():
        assert "<script" not in page and "<link" not in page and "@import" not in page
        assert not re.search(r'(src|href)="(?!data:)', page)
        for _, src in images(page):
            assert src.startswith("data:image/png;base64,")
            assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_verdict_seed_hash_and_reproduce_command_up_top(stores):
    db, page = stores["acks1_leader_crash"]
    run = dict(sql(db, "select key, value from run"))
    top = page[:page.index("<h2>The story</h2>")]
    assert '<span class="verdict ok">VERDICT: ok</span>' in top
    assert f"<dd>{run['trace_hash']}</dd>" in top and "<dt>seed</dt><dd>1</dd>" in top
    assert "./ksim run scenarios/acks1_leader_crash.py --seed 1" in top
    # the kind, its counts (0 violations, 1 expected) and its first example in a sentence
    assert re.search(r"<td><b>lost-write</b></td><td>0</td><td>1</td><td>At t=1\.440 s: send #1 of &#x27;order-2&#x27;",
                     top)
    assert "Kafka permits this: acks=1: acknowledged by the leader alone" in top


def test_the_story_explains_the_crash_and_the_election(stores):
    db, page = stores["acks1_leader_crash"]
    (crashed,), = sql(db, "select node from events where type = 'fault'")
    (leader, epoch), = sql(db, "select node, leader_epoch from events where type = 'election' and what = 'election'")
    story = page[page.index("<h2>The story</h2>"):page.index("<h2>Plots</h2>")]
    assert f"<td>broker {crashed} crashed</td>" in story
    assert "after replica.lag.time.max.ms" in story
    assert f"<td>broker {leader} elected leader of orders-0 in epoch {epoch}</td>" in story
    assert ">anomaly lost-write on orders-0 (expected: acks=1" in story
    times = [float(t) for t in re.findall(r'<td class="t">([0-9.]+)</td>', story)]
    assert times == sorted(times) and len(times) >= 6


def test_one_plot_per_partition_and_the_produce_plot(stores):
    _, page = stores["acks1_leader_crash"]
    assert [alt for alt, _ in images(page)] == ["partition orders-0", "produce latency and throughput"]
    assert "No consumer group polled records in this run." in page
    _, page = stores["autocommit_duplicates"]
    assert [alt for alt, _ in images(page)] == ["partition orders-0", "consumer lag", "produce latency and throughput"]


def test_kafka_topics_tables_show_the_isr_after_the_crash(stores):
    db, page = stores["acks1_leader_crash"]
    (crashed,), = sql(db, "select node from events where type = 'fault'")
    tables = page[page.index("<h2>Topics and consumer groups"):]
    instants = re.findall(r"<h3>t=([0-9.]+) s: ([^<]*)</h3>\s*<p><code>kafka-topics --describe</code></p>\s*<pre>"
                          r"([^<]*)</pre>", tables)
    labels = [label for _, label, _ in instants]
    assert labels[0] == "after the topics were created" and labels[-1] == "the end of the run"
    assert labels[1].startswith(f"after: broker {crashed} crashed")
    assert all("Topic: orders\tPartitionCount: 1\tReplicationFactor: 3" in text for _, _, text in instants)
    isr = [re.search(r"\tIsr: ([0-9,]*)", text).group(1).split(",") for _, _, text in instants]
    assert str(crashed) in isr[0] and str(crashed) not in isr[1]  # it left the ISR after the crash
    # the text is what `ksim describe --at` prints (the C++ reader), minus HTML escaping
    header = re.search(r"# partitions at t=([0-9.]+) ms", instants[1][2]).group(1)
    assert ksim("describe", db, "--at", header, check=0).stdout == instants[1][2].replace("&#x27;", "'")


def test_unclean_and_offline_partitions_are_told_as_such(stores):
    db, page = stores["history_eligible_leader_replicas"]
    (node, epoch), = sql(db, "select node, leader_epoch from events where unclean = 1")
    assert f"<td>UNCLEAN election: broker {node} leads t-0 in epoch {epoch}</td>" in page
    assert "unclean.leader.election.enable let an out-of-sync replica lead" in page
    assert re.search(r'<span class="k k-offline">offline</span></td><td>t-0 is offline \(epoch \d+\)</td>', page)


def test_consumer_groups_table_and_rebalance_in_the_report(stores):
    db, page = stores["autocommit_duplicates"]
    assert "<td>group billing rebalanced: generation 1 (eager, range)</td>" in page
    # Kafka's widths: group and topic at least 15, partition 10, the offsets 15
    assert f"{'GROUP':<15} {'TOPIC':<15} {'PARTITION':<10} {'CURRENT-OFFSET':<15} {'LOG-END-OFFSET':<15} {'LAG':<15} " \
           "CONSUMER-ID" in page


def test_consumer_groups_describe_on_the_command_line(stores):
    db, _ = stores["autocommit_duplicates"]
    out = ksim("consumer-groups", db, "--describe", check=0).stdout.splitlines()
    assert out[0] == "# consumer groups at the end of the run"
    assert out[2].split() == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                              "CONSUMER-ID", "HOST", "CLIENT-ID"]
    (offsets,), = sql(db, "select offsets from ops where type = 'commit' and outcome = 'ok' order by complete_ms desc "
                          "limit 1")
    (hw,), = sql(db, "select high_watermark from partition_states where topic = 'orders' order by at_ms desc limit 1")
    client, member = sql(db, "select client, member_id from ops where type = 'assign' order by id desc limit 1")[0]
    name = sql(db, "select client_name from ops where client = ?", (client,))[0][0]
    committed = int(offsets.split(":")[1])
    assert out[3].split() == ["billing", "orders", "0", str(committed), str(hw), str(hw - committed), member,
                              f"/node{client}", name]
    # before the first commit completed: the first member owns it, nothing committed yet
    (first_commit,), = sql(db, "select min(complete_ms) from ops where type = 'commit'")
    early = ksim("consumer-groups", db, "--describe", "--group", "billing", "--at", first_commit - 1, check=0).stdout
    row = early.splitlines()[3].split()
    assert row[:4] == ["billing", "orders", "0", "-"] and row[5] == "-"
    assert f"t={first_commit - 1:.3f} ms" in early


def test_python_describe_matches_the_cli(stores):
    from ksim.run_db import RunDb

    db, _ = stores["history_eligible_leader_replicas"]
    run = RunDb(str(db))
    for at in (None, 0.0, 5_000.0, 14_600.0):
        args = ("--at", at) if at is not None else ()
        assert run.describe_topics(at) == ksim("describe", db, *args, check=0).stdout


def test_demo_out_writes_its_store_with_the_printed_hash(tmp_path):
    plain = ksim("demo", "--seed", "7", check=0).stdout
    r = ksim("demo", "--seed", "7", "--out", tmp_path, check=0)
    db = tmp_path / "demo-7.db"
    assert r.stdout == plain + f"trace store: {db}\n"
    assert "trace_hash=87f35f87b0460ee8" in plain
    run = dict(sql(db, "select key, value from run"))
    assert (run["trace_hash"], run["scenario"], run["verdict"]) == ("87f35f87b0460ee8", "ksim demo", "ok")
    assert sql(db, "select kind, expected from anomalies") == [("lost-write", 1)]
    ksim("report", db, "--html", tmp_path / "demo.html", check=0)
    page = (tmp_path / "demo.html").read_text()
    assert "<dd>./ksim demo --seed 7</dd>" in page and "<td><b>lost-write</b></td>" in page


def test_sweep_html_report(tmp_path):
    db = tmp_path / "sweep.db"
    ksim("sweep", SCENARIOS / "acks1_leader_crash.py", "--seeds", "1:3", "--jobs", "1", "--db", db, check=0)
    page_path = tmp_path / "sweep.html"
    r = ksim("sweep", "--report", db, "--html", page_path, check=0)
    assert f"sweep html report: {page_path}" in r.stdout
    page = page_path.read_text()
    assert "<b>3/3 seeds as expected</b> (seeds 1..3)" in page
    assert re.search(r"seeds per second of worker time", page)
    assert "<tr><td>lost-write</td><td>3</td><td>0</td><td>3</td><td>1</td>" in page
    assert [alt for alt, _ in images(page)] == ["verdicts per seed and anomaly kinds"]
    from ksim import sweep

    rows, _, _ = sweep.load_rows(str(db))
    cov = sweep.probe_coverage(rows)
    hit = len(cov["catalog"]) - len(cov["never"])
    assert f"<b>{hit}/{len(cov['catalog'])}</b> catalogued probes fired" in page


@pytest.mark.parametrize("args, message", [
    (("report", "{missing}", "--html", "{out}"), "cannot read run file"),
    (("report", "{text}", "--html", "{out}"), "is not a ksim run file"),
    (("consumer-groups", "{missing}", "--describe"), "cannot read run file"),
    (("consumer-groups", "{text}", "--describe"), "is not a ksim run file"),
    (("consumer-groups", "{db}", "--describe", "--at", "-5"), "--at must be a virtual time >= 0 ms"),
    (("consumer-groups", "{db}", "--describe", "--group", "nope"), "unknown group 'nope'"),
    (("consumer-groups", "{db}"), "say --describe"),
    (("sweep", "--report", "{db}", "--html", "{out}"), "is not a ksim sweep database"),
    (("sweep", "--html", "{out}"), "--html OUT.html goes with --report DB"),
    (("report", "{db}", "--html", "{nodir}"), "ksim report: cannot write"),
    (("report", "{db}", "--perfetto", "{nodir}"), "ksim perfetto: cannot write"),
])
def test_bad_input_fails_clearly(stores, tmp_path, args, message):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    db = stores["autocommit_duplicates"][0]
    fill = {"missing": tmp_path / "missing.db", "text": text, "db": db, "out": tmp_path / "out.html",
            "nodir": tmp_path / "no" / "out.html"}
    r = ksim(*[a.format(**fill) for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.html").exists()


def test_a_sqlite_file_that_is_not_a_run_store_and_an_unwritable_output(tmp_path, stores):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("create table t (x)")
    r = subprocess.run([sys.executable, "-m", "ksim.html_report", str(other), str(tmp_path / "o.html")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "is not a ksim run file (no events, ops, run, summary table)" in r.stderr
    db = stores["acks1_leader_crash"][0]
    r = subprocess.run([sys.executable, "-m", "ksim.html_report", str(db), str(tmp_path / "no" / "o.html")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr


def test_an_election_from_the_elr_and_a_shrink_by_shutdown_are_told_apart(tmp_path):
    """KIP-966: brokers 3 and 2 stop cleanly, then the leader crashes; broker 2 (in the ELR, not the ISR) leads."""
    import importlib.util

    import ksim
    from ksim.run_db import RunDb
    from ksim.story import story

    spec = importlib.util.spec_from_file_location("elr_story", SCENARIOS / "history_eligible_leader_replicas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.story(1, elr=True, stop="shutdown")
    db = tmp_path / "elr.db"
    ksim.last_simulation().export(str(db))
    told = [(e.kind, e.text, e.why) for e in story(RunDb(str(db)))]
    elr = [t for t in told if t[0] == "elr"]
    assert [t[1] for t in elr] == ["broker 2 elected leader of t-0 in epoch 1 from the ELR"]
    assert elr[0][2].startswith("not in the last ISR {1}, but an eligible leader replica (KIP-966)")
    shrinks = [t[2].split(":")[0] for t in told if t[0] == "isr-shrink"]
    assert shrinks == ["broker 3 is down (controlled shutdown)", "broker 2 is down (controlled shutdown)"]
