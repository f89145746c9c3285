"""Every scenario's run, and the demo's, makes an HTML report a person can read:
the verdict as the store says, every anomaly kind in the verdict table, a plot
per partition (capped), the lag plot exactly when a group polled, a story row
for each topic's creation. Its own ctest entry (pytest-report-scenarios): a
run plus a report per scenario is ~30 s here, ~2 min under ASan."""
import pathlib
import re
import sqlite3
import subprocess

import pytest
from cli_binary import ksim_bin  # this folder

ROOT = pathlib.Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.py"))


def check_page(db, page):
    con = sqlite3.connect(db)
    verdict = dict(con.execute("select key, value from run")).get("verdict")
    word = {"ok": "VERDICT: ok", "violated": "VERDICT: VIOLATED", None: "not checked (the run never called check())"}[
        verdict]
    assert f'">{word}</span>' in page
    for (kind,) in con.execute("select distinct kind from anomalies"):
        assert f"<td><b>{kind}</b></td>" in page
    alts = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,', page)
    topics = {t for (t,) in con.execute("select distinct topic from events where type = 'election'")}
    user = [t for t in topics if not t.startswith("__")]
    parts = con.execute("select count(distinct topic || '-' || partition) from events where type = 'election' "
                        f"and topic in ({','.join('?' * len(user))})", user).fetchone()[0] if user else 0
    assert sum(a.startswith("partition ") for a in alts) == min(parts, 6)
    polled = con.execute("select count(*) from polled_records p join ops o on o.id = p.op_id "
                         "where o.group_id != '' and p.high_watermark >= 0").fetchone()[0]
    assert ("consumer lag" in alts) == (polled > 0)
    sends = con.execute("select count(*) from ops where type = 'send'").fetchone()[0]
    assert ("produce latency and throughput" in alts) == (sends > 0)
    for t in topics:
        assert f"<td>topic {t} created: " in page
    assert "Traceback" not in page


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_has_a_readable_report(path, tmp_path):
    from ksim.html_report import build_report

    r = subprocess.run([ksim_bin(), "run", str(path), "--seed", "1", "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    db = tmp_path / f"{path.stem}-1.db"
    page = build_report(str(db))
    check_page(db, page)
    assert f"scenarios/{path.name} --seed 1</dd>" in page


def test_the_demo_has_a_readable_report(tmp_path):
    from ksim.html_report import build_report

    subprocess.run([ksim_bin(), "demo", "--seed", "7", "--out", str(tmp_path)], check=True, capture_output=True)
    db = tmp_path / "demo-7.db"
    page = build_report(str(db))
    check_page(db, page)
    assert "<dd>./ksim demo --seed 7</dd>" in page
