"""ksim hunt and ksim shrink: a seed's plan, its explicit schedule, and the shrunk scenario.

The hunt draws everything from the seed; the run's calls become a scenario
file that replays it bit for bit; shrinking a planted bug's failure gives a
small scenario that fails with the bug and passes without it.
"""
import contextlib
import importlib.util
import io
import subprocess
import sys

import pytest

import ksim
from ksim import hunt, shrink
from cli_binary import ksim_bin

PLANTED = {"ksim.bug.skip.idempotent.dedupe": "true"}  # shows only when a retry meets a written batch


def first_violating_seed(overrides, max_seeds=100):
    for seed in range(1, max_seeds + 1):
        if hunt.hunt_seed(seed, overrides)["verdict"] == "VIOLATED":
            return seed
    pytest.fail(f"the hunt found no violation with {overrides} in {max_seeds} seeds")


def load(path):
    spec = importlib.util.spec_from_file_location("shrunk_scenario", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_plan_is_drawn_from_the_seed_alone():
    assert hunt.draw(7) == hunt.draw(7)
    assert hunt.draw(7) != hunt.draw(8)
    # A setting never changes what is drawn: with and without it, the same story.
    with_bug = hunt.draw(7, PLANTED)
    assert with_bug["faults"] == hunt.draw(7)["faults"]
    assert with_bug["config"] == PLANTED


def test_a_hunt_seed_reproduces_bit_for_bit():
    a, b = hunt.hunt_seed(3), hunt.hunt_seed(3)
    assert a["trace_hash"] and a["trace_hash"] == b["trace_hash"]
    assert a["verdict"] == "ok", a  # the correct engine: no violation


def test_the_explicit_schedule_replays_the_hunt_run_exactly(tmp_path):
    plan = hunt.draw(4)
    run, sim, v, kinds = hunt.run_plan(plan)
    text = shrink.scenario_text(plan, run.actions, kinds, {}, origin="ksim hunt seed 4")
    replayed, replay_sim = shrink.run_text(text, {})
    assert replay_sim.trace_hash() == sim.trace_hash()
    assert replayed.ok == v.ok


def test_a_shrunk_planted_bug_fails_with_the_bug_and_passes_without(tmp_path):
    seed = first_violating_seed(PLANTED)
    out = tmp_path / "shrunk.py"
    figures, _ = shrink.shrink_seed(seed, PLANTED, out=str(out), budget_s=60, log=lambda m: None)
    assert figures["faults_after"] <= min(5, figures["faults_before"])
    assert figures["fixed_engine_ok"] is True
    mod = load(out)
    with contextlib.redirect_stdout(io.StringIO()):
        assert mod.scenario(1) is False          # the bug is in: the anomaly reproduces
        assert mod.story({}).ok                  # the fixed engine keeps the promise
    # And `ksim run` says so with its exit code.
    r = subprocess.run([ksim_bin(), "run", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert figures["kind"] in r.stdout


def test_shrink_refuses_a_seed_without_a_violation():
    with pytest.raises(SystemExit, match="no violation"):
        shrink.shrink_seed(3, {}, log=lambda m: None)


def test_hunt_config_must_be_key_value():
    with pytest.raises(SystemExit, match="key=value"):
        hunt.parse_overrides(["ksim.bug.ack.before.isr"])


def test_regression_the_producer_does_not_spin_at_one_instant():
    """Hunt seed 14's schedule (tests/python/regressions/): run_for returned no more before the fix."""
    path = __import__("pathlib").Path(__file__).parent / "regressions" / "hunt_seed14_producer_spin.py"
    code = f"import importlib.util as u; s = u.spec_from_file_location('r', {str(path)!r}); m = u.module_from_spec(s); " \
           "s.loader.exec_module(m); v = m.story({}); print('verdict ok' if v.ok else 'VIOLATED')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "verdict ok" in r.stdout


@pytest.mark.parametrize("name", ["hunt_seed78_truncate_lost_on_power_failure",
                                  "hunt_seed779_isr_expand_after_controller_restart",
                                  "hunt_seed2982_requests_fail_with_their_connection",
                                  "hunt_seed8633_expiry_before_timeout",
                                  "hunt_seed3206_tv2_marker_retry",
                                  "hunt_seed4780_tv2_marker_retry_exactly_once",
                                  "hunt_seed6388_group_state_lost",
                                  "hunt_seed755_compacted_gap_cleaned_on_the_leader",
                                  "hunt_seed1159_released_requests_keep_their_order",
                                  "hunt_seed1744_deposed_leader_acks_after_unclean_election",
                                  "hunt_seed8193_compacted_small_segments_merged"])
def test_regression_shrunk_hunt_findings_keep_every_promise(name):
    """Scenarios `ksim shrink` wrote for bugs the hunt found on the correct engine, now fixed."""
    mod = load(__import__("pathlib").Path(__file__).parent / "regressions" / f"{name}.py")
    with contextlib.redirect_stdout(io.StringIO()):
        v = mod.story({})
    assert v.ok, str(v)


def test_the_swarm_draws_cluster_tuning_compacted_topics_and_kip848_groups():
    plans = [hunt.draw(s) for s in range(1, 201)]
    lags = {p["broker_config"]["replica.lag.time.max.ms"] for p in plans}
    assert "2000" in lags and "30000" in lags  # short ISR lag (fast failover clusters) and Kafka's default
    compacted = [p for p in plans if "compact" in p["topic"]["config"].get("cleanup.policy", "")]
    assert 20 <= len(compacted) <= 60
    assert all(p["workload"]["key_space"] > 0 for p in compacted)  # a compacted topic refuses keyless records
    kip848 = [p for p in plans if p["workload"]["consumer_config"].get("group.protocol") == "consumer"]
    assert kip848 and all("partition.assignment.strategy" not in p["workload"]["consumer_config"] for p in kip848)
    assert any(p["workload"]["final_read"] for p in plans) and not all(p["workload"]["final_read"] for p in plans)
    kinds = {k for p in plans for k in p["kinds"]}
    assert {"produce_late", "client_crash"} <= kinds


def test_a_setting_given_to_the_hunt_wins_over_the_drawn_cluster_tuning():
    # The drawn value is valid; the given one is not: the cluster sees the given one and refuses it by name.
    plan = hunt.draw(5, {"replica.lag.time.max.ms": "-5"})
    assert int(plan["broker_config"]["replica.lag.time.max.ms"]) > 0
    with pytest.raises(ksim.KsimError, match="replica.lag.time.max.ms"):
        hunt.run_plan(plan)
    text = shrink.scenario_text(plan, [], {}, plan["config"], origin="x")
    assert "config=dict({" in text and "**config)" in text  # the drawn tuning, then the setting on top


def test_a_seed_with_a_client_crash_and_a_final_read_replays_exactly():
    seed = next(s for s in range(1, 300)
                if hunt.draw(s)["workload"]["final_read"] and "client_crash" in hunt.draw(s)["kinds"])
    plan = hunt.draw(seed)
    run, sim, v, kinds = hunt.run_plan(plan)
    assert run.ns["final"].consumed > 0  # the final read read the topic from its beginning
    text = shrink.scenario_text(plan, run.actions, kinds, {}, origin=f"ksim hunt seed {seed}")
    assert "the final read" in text
    replayed, replay_sim = shrink.run_text(text, {})
    assert replay_sim.trace_hash() == sim.trace_hash()


def test_regression_seed148_a_loss_to_an_isr_of_power_failed_replicas_is_expected_without_elr():
    """Hunt seed 148: without ELR the ISR shrank to the leader that had lost its unflushed
    data, and Kafka elects it again: the replaced records are expected, not violations.
    With ELR the same schedule loses nothing (the unclean restart leaves the ISR)."""
    mod = load(__import__("pathlib").Path(__file__).parent / "regressions" /
               "hunt_seed148_isr_shrank_to_power_failed_leader.py")
    with contextlib.redirect_stdout(io.StringIO()):
        v = mod.story({})
        elr = mod.story({"ksim.eligible.leader.replicas": "true"})
    assert v.ok, str(v)
    replaced = [a for a in v.anomalies if a.kind == "inconsistent-offsets"]
    assert replaced and all(a.expected and a.cause.startswith("ELR off: the ISR shrank to {3}") for a in replaced)
    assert elr.ok, str(elr)
    assert not [a for a in elr.anomalies if a.kind == "inconsistent-offsets"]


def test_regression_seed353_a_committed_transaction_lost_with_an_isr_of_power_failed_replicas_is_expected():
    """Hunt seed 353: the ISR shrank to {2,4}, both had lost their unflushed data, ELR off:
    the committed transactions' loss is expected. With ELR both leave the ISR when they
    register again, and broker 2 comes back as the last known leader (KIP-966): expected too,
    for that reason."""
    mod = load(__import__("pathlib").Path(__file__).parent / "regressions" /
               "hunt_seed353_isr_shrank_to_power_failed_replicas.py")
    with contextlib.redirect_stdout(io.StringIO()):
        v = mod.story({})
        elr = mod.story({"ksim.eligible.leader.replicas": "true"})
    assert v.ok, str(v)
    lost = [a for a in v.anomalies if a.kind in ("exactly-once", "lost-write")]
    assert lost and all(a.expected and a.cause.startswith("ELR off: the ISR shrank to {2,4}") for a in lost)
    assert elr.ok, str(elr)
    assert not [a for a in elr.anomalies if a.cause.startswith("ELR off")]


def test_regression_seed1068_requests_left_on_a_connection_the_producer_closed_are_not_processed():
    """Hunt seed 1068: a batch renumbered by an epoch bump also landed under its old sequence, from a
    request still queued on the connection the producer had closed; Kafka never reads past the first
    failed response of such a connection. Before the fix: one `duplicate` violation."""
    mod = load(__import__("pathlib").Path(__file__).parent / "regressions" /
               "hunt_seed1068_closed_connection_requests_dropped.py")
    with contextlib.redirect_stdout(io.StringIO()):
        v = mod.story({})
    assert v.ok, str(v)
    assert not [a for a in v.anomalies if a.kind == "duplicate"]


def test_regression_seed1411_an_epoch_bump_resending_a_written_batch_is_an_expected_duplicate():
    """Hunt seed 1411: an idempotent producer bumped its epoch after OUT_OF_ORDER_SEQUENCE_NUMBER and
    resent an unacknowledged batch the old epoch had written; Kafka's client does the same. Before the
    fix: one `duplicate` violation; now expected, with the epoch bump as its cause."""
    mod = load(__import__("pathlib").Path(__file__).parent / "regressions" /
               "hunt_seed1411_epoch_bump_resends_written_batch.py")
    with contextlib.redirect_stdout(io.StringIO()):
        v = mod.story({})
    assert v.ok, str(v)
    dups = [a for a in v.anomalies if a.kind == "duplicate"]
    assert dups and all(a.expected and "KIP-360" in a.cause for a in dups)
    assert "producer epoch 0" in dups[0].cause and "producer epoch 1" in dups[0].cause


def test_regression_seed377_a_late_produce_after_an_abort_is_committed_only_under_tv1():
    """Hunt seed 377, shrunk: Produce requests a transactional producer sent before closing its
    connection at the request timeout arrive after the abort (TCP's orderly release). Under
    transaction.protocol=v1 the next commit commits them (an aborted-read); under v2 they are fenced."""
    mod = load(__import__("pathlib").Path(__file__).parent / "regressions" /
               "hunt_seed377_tv1_late_produce_after_abort.py")
    with contextlib.redirect_stdout(io.StringIO()):
        legacy = mod.story(mod.BUG)
        fixed = mod.story({})
    assert [a for a in legacy.violations if a.kind == "aborted-read"]
    assert fixed.ok, str(fixed)
