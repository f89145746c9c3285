"""sim.check(): the verdict on real runs, the fault model, the nemesis."""
import pytest

import ksim


def leader_crash_after_ack(acks, seed=4):
    sim = ksim.Simulation(seed=seed, brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    assert sim.produce("t", 0, ["before"], acks="all")["error"] is None
    leader = sim.describe_topic("t")[0].leader
    h = sim.network.hold(src=leader, api="Fetch", direction="response", count=None)
    sim.produce("t", 0, ["maybe-lost"], acks=acks, timeout_ms=2_000)
    sim.crash(leader)
    sim.network.discard(h)
    sim.run_for(15_000)
    return sim


def test_acks1_loss_is_expected_and_explained():
    v = leader_crash_after_ack("1").check()
    assert v.ok
    assert [a.kind for a in v.anomalies] == ["lost-write"]
    a = v.anomalies[0]
    assert a.expected and a.cause.startswith("acks=1")
    assert a.records == ["maybe-lost"]
    assert "crash" in a.explanation and "elected leader of t-0" in a.explanation
    assert "lost-write: 0 violation(s), 1 expected" in str(v)


def test_acks_all_same_crash_loses_nothing():
    v = leader_crash_after_ack("all").check()
    assert v.ok and v.anomalies == []
    assert v.stats.acked == 1 and v.stats.unknown == 1


def test_check_heals_and_converges():
    sim = ksim.Simulation(seed=3, brokers=3)
    sim.create_topic("t", partitions=2, replication_factor=3)
    sim.crash(2)
    sim.partition([[1], [3]])
    sim.run_for(3_000)
    v = sim.check()
    assert v.ok, str(v)
    assert sim.converged()


def test_nemesis_runs_on_the_clock_and_is_deterministic():
    def run():
        sim = ksim.Simulation(seed=11, brokers=3, config={"min.insync.replicas": "2"})
        sim.create_topic("t", partitions=3, replication_factor=3)
        sim.nemesis(ksim.nemesis.Random(kinds=["crash", "partition", "pause"], interval_ms=1_000))
        for i in range(30):
            sim.produce("t", i % 3, [f"v{i}"], acks="all", timeout_ms=1_500)
            sim.run_for(300)
        v = sim.check()
        return v, sim.nemesis_log, sim.trace_hash()

    v1, log1, h1 = run()
    v2, log2, h2 = run()
    assert v1.ok, str(v1)
    assert len(log1) >= 5 and log1 == log2
    assert h1 == h2


def test_unknown_nemesis_kind_is_a_clear_error():
    with pytest.raises(ksim.KsimError, match="unknown nemesis kind 'meteor'"):
        ksim.nemesis.Random(kinds=["meteor"])
    sim = ksim.Simulation(seed=1, brokers=3)
    with pytest.raises(ksim.KsimError, match="unknown nemesis kind"):
        sim.start_nemesis(["meteor"], 1000, 1)


def test_workload_drives_a_group_and_the_verdict_sees_it():
    sim = ksim.Simulation(seed=5, brokers=3, config={"min.insync.replicas": "2"})
    sim.create_topic("t", partitions=6, replication_factor=3)
    w = sim.workload("t", producers=1, consumers=3, rate_per_s=2_000, duration_ms=3_000,
                     consumer_config={"group.id": "wg", "auto.offset.reset": "earliest"})
    sim.run_for(3_000)
    sim.run_until(lambda: w.producers_finished and w.consumed >= w.acked, timeout_ms=30_000)
    assert 6_000 <= w.acked <= 6_001 and w.consumed >= w.acked
    v = sim.check(full_read=True)
    assert v.ok, str(v)
    assert v.stats.acked == w.acked and v.stats.records_polled >= w.acked


def test_workload_rejects_bad_arguments():
    sim = ksim.Simulation(seed=5, brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    with pytest.raises(ksim.KsimError, match="commit must be"):
        sim.workload("t", commit="sometimes")
    with pytest.raises(ksim.KsimError, match="workload"):
        sim.workload("t", producers=0, consumers=0)


def test_a_second_nemesis_replaces_the_first_safely():
    sim = ksim.Simulation(seed=8, brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    sim.nemesis(ksim.nemesis.Random(kinds=["pause"], interval_ms=300))
    sim.run_for(1_000)
    sim.nemesis(ksim.nemesis.Random(kinds=["crash"], interval_ms=500))  # the first one's ticks must not fire
    sim.run_for(3_000)
    assert sim.check().ok


def test_workload_refuses_a_client_of_the_wrong_kind():
    sim = ksim.Simulation(seed=8, brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    c = sim.consumer({"group.id": "g"})
    with pytest.raises(ksim.KsimError, match="is not a producer client"):
        sim.workload("t", producers=[c])


def test_a_static_member_replaced_on_another_client_is_named_by_node_and_is_no_second_owner():
    """KIP-345: a new instance with the same group.instance.id (and, as usual, the
    same client.id) replaces the old one in the same generation; Kafka fences the
    old instance at its next request. describe_group names the replacement's node,
    and split-ownership does not fire (it did, and GroupMember.client named the
    old node, before)."""
    sim = ksim.Simulation(seed=3, brokers=3)
    sim.create_topic("t", partitions=2, replication_factor=3)
    conf = {"group.id": "g", "group.instance.id": "app-0", "client.id": "app",
            "session.timeout.ms": "30000", "auto.offset.reset": "earliest"}
    old = sim.consumer(dict(conf))
    old.subscribe(["t"])
    for _ in range(80):
        old.poll(timeout_ms=100)
    assert [m.client for m in sim.describe_group("g").members] == [old.id]
    new = sim.consumer(dict(conf))
    new.subscribe(["t"])
    for _ in range(30):
        new.poll(timeout_ms=100)
    members = sim.describe_group("g").members
    assert [(m.client, m.client_id, sorted(m.assignment)) for m in members] == [(new.id, "app", [("t", 0), ("t", 1)])]
    v = sim.check()
    assert [a.kind for a in v.anomalies] == [], str(v)
