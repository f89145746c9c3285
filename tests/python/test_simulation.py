"""The Python surface of ksim: a cluster driven from a script, and every error path."""
import sqlite3

import pytest

import ksim


@pytest.fixture
def sim():
    return ksim.Simulation(seed=7, brokers=3, controllers=1)


def test_a_cluster_comes_up_with_an_active_controller(sim):
    assert sim.ready()
    assert sim.active_controller() == 4
    assert sim.metrics()["ActiveControllerCount"] == 1


def test_metrics_history_is_a_step_function_that_only_grows_when_something_changes(sim):
    sim.create_topic("t", partitions=3, replication_factor=3)
    sim.run_for(10_000)
    before = len(sim.metrics_history())
    sim.run_for(2 * 3_600_000)  # two simulated hours of nothing: 7,200 samples taken, none kept
    assert len(sim.metrics_history()) == before <= 4
    at, last = sim.metrics_history()[-1]
    assert last == sim.metrics() and at <= 10_000  # the last sample holds until now
    sim.crash(1)
    sim.run_for(60_000)  # the leaders drop broker 1 from their ISRs
    changes = sim.metrics_history()[before:]
    assert changes and max(m["UnderReplicatedPartitions"] for _, m in changes) > 0
    assert all(a[1] != b[1] for a, b in zip(sim.metrics_history(), sim.metrics_history()[1:]))


def test_create_describe_and_produce(sim):
    sim.create_topic("orders", partitions=3, replication_factor=3, config={"min.insync.replicas": "2"})
    parts = sim.describe_topic("orders")
    assert [p.partition for p in parts] == [0, 1, 2]
    assert all(len(p.isr) == 3 and p.leader in p.replicas for p in parts)
    r = sim.produce("orders", 0, ["a", "b"], acks="all")
    assert r["error"] is None and r["offset"] == 0
    assert sim.describe_topic("orders")[0].high_watermark == 2
    assert [v for _, v in sim.log(parts[0].leader, "orders", 0)] == [b"a", b"b"]
    assert "Topic: orders\tPartitionCount: 3" in sim.describe("orders")


def test_acks1_write_is_lost_when_the_leader_crashes_before_replication(sim):
    sim.create_topic("t", partitions=1, replication_factor=3)
    leader = sim.describe_topic("t")[0].leader
    h = sim.network.hold(src=leader, api="Fetch", direction="response", count=None)
    assert sim.produce("t", 0, ["lost"], acks="1")["error"] is None
    sim.crash(leader)
    sim.network.discard(h)
    assert sim.run_until(lambda s=sim: s.describe_topic("t")[0].leader not in (None, leader), timeout_ms=30_000)
    sim.restart(leader)
    sim.run_for(15_000)
    for broker in (1, 2, 3):
        assert b"lost" not in [v for _, v in sim.log(broker, "t", 0)]
    assert sim.check_invariants() == []


def test_restarting_a_running_broker_is_recorded_as_a_crash_then_a_restart(sim, tmp_path):
    sim.create_topic("t", partitions=1, replication_factor=3)
    sim.restart(2)  # running: kill -9, then start
    sim.run_for(1_000)
    sim.export(str(tmp_path / "run.db"))
    rows = sqlite3.connect(tmp_path / "run.db").execute(
        "select type, what from events where node = 2 and type in ('fault', 'heal') order by at_ms, rowid").fetchall()
    assert rows == [("fault", "crash"), ("heal", "restart")]


def test_run_until_passes_the_simulation_to_a_predicate_that_takes_it(sim):
    sim.create_topic("t", partitions=1, replication_factor=3)
    leader = sim.describe_topic("t")[0].leader
    sim.crash(leader)
    assert not sim.quiescent()
    sim.restart(leader)
    assert sim.run_until(lambda s: s.quiescent(), timeout_ms=60_000)  # the design's idiom
    assert sim.run_until(lambda: sim.quiescent())                     # no parameter: called bare
    assert sim.run_until(lambda s=sim: [1])                           # a default: called bare; truthy
    assert not sim.run_until(lambda s: None, timeout_ms=50)           # falsy until the timeout
    with pytest.raises(ZeroDivisionError):
        sim.run_until(lambda s: 1 / 0)                                # the predicate's error surfaces


def test_same_seed_same_trace_hash_and_another_seed_another():
    def run(seed):
        s = ksim.Simulation(seed=seed, brokers=3)
        s.create_topic("t", partitions=2, replication_factor=3)
        for i in range(5):
            s.produce("t", i % 2, [f"v{i}"])
        s.crash(2)
        s.run_for(12_000)
        s.restart(2)
        s.run_for(5_000)
        return s.trace_hash()

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_unknown_config_key_is_a_config_error_naming_the_key():
    with pytest.raises(ksim.ConfigError) as e:
        ksim.Simulation(config={"min.insync.replica": "2"})
    assert e.value.key == "min.insync.replica"
    assert isinstance(e.value, ksim.KsimError)
    with pytest.raises(ksim.ConfigError, match="Invalid value zero for configuration min.insync.replicas"):
        ksim.Simulation(config={"min.insync.replicas": "zero"})


def test_kafka_errors_carry_kafkas_error_name(sim):
    sim.create_topic("t", partitions=1, replication_factor=1)
    with pytest.raises(ksim.ClusterError) as e:
        sim.create_topic("t", partitions=1, replication_factor=1)
    assert e.value.error == "TOPIC_ALREADY_EXISTS"
    with pytest.raises(ksim.ClusterError) as e:
        sim.create_topic("big", partitions=1, replication_factor=5)
    assert e.value.error == "INVALID_REPLICATION_FACTOR"
    with pytest.raises(ksim.ClusterError) as e:
        sim.describe_topic("missing")
    assert e.value.error == "UNKNOWN_TOPIC_OR_PARTITION"


def test_misuse_raises_ksim_error_never_crashes(sim):
    with pytest.raises(ksim.KsimError, match="unknown node 9"):
        sim.crash(9)
    sim.crash(2)
    with pytest.raises(ksim.KsimError, match="already down"):
        sim.crash(2)
    with pytest.raises(ksim.KsimError, match="cannot pause node 2: it is down"):
        sim.pause(2, 100)
    with pytest.raises(ksim.KsimError, match="unknown API 'Fech'"):
        sim.network.hold(src=1, api="Fech")
    with pytest.raises(ksim.ConfigError):
        sim.produce("t", 0, ["x"], acks="2")
    with pytest.raises(ksim.KsimError, match="brokers must be between 1 and 1000"):
        ksim.Simulation(brokers=0)
    with pytest.raises(ksim.KsimError):
        sim.run_for(-1)


def test_partition_replaces_earlier_cuts_and_cut_adds_to_them():
    sim = ksim.Simulation(seed=4, brokers=3)
    sim.partition([[1], [2, 3]])
    assert not sim.network.reachable(1, 2) and sim.network.reachable(2, 3)
    sim.partition([[2], [1, 3]])  # exactly these groups now: 1 and 3 meet again
    assert sim.network.reachable(1, 3) and not sim.network.reachable(2, 1)
    sim.cut([[3], [1]])  # the additive verb
    assert not sim.network.reachable(1, 3) and not sim.network.reachable(2, 1)
    sim.heal()
    assert sim.network.reachable(1, 3) and sim.network.reachable(2, 1)


def test_the_answer_to_a_released_request_is_in_the_network_log():
    sim = ksim.Simulation(seed=4, brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    p = sim.producer({"linger.ms": "0"})
    leader = sim.describe_topic("t")[0].leader
    h = sim.network.hold(src=p.id, dst=leader, api="Produce", direction="request", count=1)
    p.produce("t", value=b"x", partition=0)
    sim.run_for(500)
    sim.network.release(h)
    sim.run_for(500)
    log = sim.network.log(api="Produce")
    assert [(e["event"], e["direction"]) for e in log] == [
        ("send", "request"), ("hold", "request"), ("release", "request"), ("deliver", "request"),
        ("send", "response"), ("deliver", "response")]
    assert len({e["correlation"] for e in log if "correlation" in e}) == 1  # one request and its answer
    assert log[-1]["src"] == leader and log[-1]["dst"] == p.id
    with pytest.raises(ksim.KsimError, match="unknown API .Produc."):
        sim.network.log(api="Produc")


def test_an_injected_error_replaces_the_brokers_answer():
    """A transient NOT_ENOUGH_REPLICAS without dropping anything: the leader appended
    the batch, the producer heard the error (a protocol fault proxy's trick)."""
    sim = ksim.Simulation(seed=4, brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    errors = []
    p = sim.producer({"linger.ms": "0", "enable.idempotence": "false", "retries": "0"},
                     on_delivery=lambda err, msg: errors.append(err))
    leader = sim.describe_topic("t")[0].leader
    sim.network.inject_error(api="Produce", error="NOT_ENOUGH_REPLICAS", count=1, src=p.id, dst=leader)
    p.produce("t", value=b"x", partition=0)
    p.flush(timeout_ms=10_000)
    p.produce("t", value=b"y", partition=0)  # count=1: the next answer is the broker's own
    p.flush(timeout_ms=10_000)
    assert [e.name() if e else None for e in errors] == ["NOT_ENOUGH_REPLICAS", None]
    assert [v for _, v in sim.log(leader, "t", 0)] == [b"x", b"y"]
    with pytest.raises(ksim.KsimError, match="cannot inject an error into Vote answers"):
        sim.network.inject_error(api="Vote", error="NOT_ENOUGH_REPLICAS")
    with pytest.raises(ksim.KsimError, match="unknown Kafka error name 'NOPE'"):
        sim.network.inject_error(api="Produce", error="NOPE")
