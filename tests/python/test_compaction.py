"""Compacted topics: a null value is a tombstone, the log cleaner keeps every
key's latest value at its offset, and the `compaction` checker fires when it
does not (the planted bug ksim.bug.cleaner.drops.latest.value)."""
import pytest

import ksim


def compacted_cluster(seed=1, **broker):
    config = {"log.cleaner.backoff.ms": "1000", "log.cleaner.delete.retention.ms": "60000"}
    config.update(broker)
    sim = ksim.Simulation(seed=seed, brokers=3, config=config)
    sim.create_topic("profiles", partitions=1, replication_factor=3,
                     config={"cleanup.policy": "compact", "segment.bytes": "1000"})
    return sim


def write_profiles(sim):
    """Three users updated five times each, then 'carol' deleted: 16 records."""
    p = sim.producer({"linger.ms": "0"})
    for round_ in range(5):
        for user in ("alice", "bob", "carol"):
            p.produce("profiles", key=user, value=f"{user}-v{round_}", partition=0)
            p.flush(timeout_ms=5_000)
    p.produce("profiles", key="carol", value=None, partition=0)
    for i in range(10):                     # more records: the segments above roll, the old ones clean
        p.produce("profiles", key=f"filler-{i}", value=b"x" * 40, partition=0)
        p.flush(timeout_ms=5_000)


def read_all(sim):
    c = sim.consumer({"auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("profiles", 0, offset=0)])
    out = []
    end = sim.now + 3_000
    while sim.now < end:
        m = c.poll(timeout_ms=200)
        if m is not None and m.error() is None:
            out.append((m.offset(), m.key().decode(), m.value()))
    return out


def test_a_none_value_travels_as_a_null_tombstone_not_an_empty_value():
    sim = ksim.Simulation(seed=3, brokers=1)
    sim.create_topic("t", partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})
    p = sim.producer({"linger.ms": "0"})
    delivered = []
    p.produce("t", key="k", value=None, partition=0, on_delivery=lambda err, msg: delivered.append(msg.value()))
    p.produce("t", key="e", value=b"", partition=0)
    p.flush(timeout_ms=5_000)
    assert delivered == [None]
    c = sim.consumer({"auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("t", 0, offset=0)])
    got = []
    while len(got) < 2:
        m = c.poll(timeout_ms=1_000)
        assert m is not None
        got.append((m.key(), m.value()))
    assert got == [(b"k", None), (b"e", b"")]


@pytest.mark.parametrize("bad", ["compacted", "delete,archive"])
def test_a_bad_cleanup_policy_is_refused_naming_the_key(bad):
    sim = ksim.Simulation(seed=1, brokers=1)
    with pytest.raises(ksim.ClusterError, match="INVALID_CONFIG.*cleanup.policy"):
        sim.create_topic("t", partitions=1, replication_factor=1, config={"cleanup.policy": bad})


def test_cleanup_policy_accepts_compact_and_delete_together_and_ratios_are_checked():
    sim = ksim.Simulation(seed=1, brokers=1)
    sim.create_topic("both", partitions=1, replication_factor=1, config={"cleanup.policy": "compact, delete"})
    with pytest.raises(ksim.ClusterError, match="INVALID_CONFIG.*min.cleanable.dirty.ratio"):
        sim.create_topic("r", partitions=1, replication_factor=1, config={"min.cleanable.dirty.ratio": "1.5"})


def test_a_keyless_record_on_a_compacted_topic_fails_its_send():
    sim = ksim.Simulation(seed=1, brokers=1)
    sim.create_topic("t", partitions=1, replication_factor=1, config={"cleanup.policy": "compact"})
    p = sim.producer({"linger.ms": "0", "retries": "0", "enable.idempotence": "false"})
    errors = []
    p.produce("t", value=b"no key", partition=0, on_delivery=lambda err, msg: errors.append(err))
    p.flush(timeout_ms=5_000)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].name() == "CORRUPT_MESSAGE"


def test_the_cleaner_keeps_each_keys_latest_value_and_the_checkers_stay_quiet():
    sim = compacted_cluster()
    write_profiles(sim)
    sim.run_for(15_000)
    got = read_all(sim)
    latest = {k: v for _, k, v in got}
    assert latest["alice"] == b"alice-v4" and latest["bob"] == b"bob-v4"
    assert latest["carol"] is None                      # the tombstone stays (delete.retention.ms not passed)
    assert [k for _, k, _ in got].count("alice") == 1   # older values compacted away
    offsets = [o for o, _, _ in got]
    assert offsets == sorted(offsets) and offsets[-1] == 25 and len(offsets) < 26   # gaps, never a step back
    v = sim.check()
    assert v.ok, str(v)
    assert [a for a in v.anomalies if a.kind in ("compaction", "lost-write", "unseen")] == []


def test_the_compaction_checker_fires_when_the_cleaner_drops_a_latest_value():
    sim = compacted_cluster(**{"ksim.bug.cleaner.drops.latest.value": "true"})
    write_profiles(sim)
    sim.run_for(15_000)
    got = read_all(sim)
    assert "alice" not in {k for _, k, _ in got}
    v = sim.check()
    found = [a for a in v.violations if a.kind == "compaction"]
    assert {a.records[0] for a in found} >= {"alice-v4", "bob-v4"}
    assert "latest value 'alice-v4' is gone" in "\n".join(a.explanation for a in found)


def test_a_follower_far_behind_a_compacted_leader_catches_up_across_the_cleaned_gaps():
    """Broker 1 is cut off while the leader's cleaner removes whole batches: the
    batch at 1's log end is gone, and the leader's answer starts past it. The
    follower appends it (offsets only increase, as Kafka's appendAsFollower) and
    rejoins the ISR; before the fix it refused the answer forever."""
    sim = ksim.Simulation(seed=1, brokers=3, controllers=1,
                          config={"replica.lag.time.max.ms": "2000", "log.cleaner.backoff.ms": "2000"})
    sim.create_topic("t", assignment=[[2, 1, 3]],
                     config={"cleanup.policy": "compact", "segment.bytes": "4000", "min.cleanable.dirty.ratio": "0.1"})
    sim.workload("t", producers=1, consumers=0, rate_per_s=100, duration_ms=20_000, key_space=64,
                 producer_config={"acks": "all"})
    sim.run_for(1_000)
    sim.isolate(1)
    sim.run_for(12_000)
    behind = sim.describe_topic("t")[0]
    assert 1 not in behind.isr
    sim.heal()
    sim.run_for(15_000)
    p = sim.describe_topic("t")[0]
    assert sorted(p.isr) == [1, 2, 3]
    assert sim.probes().get("storage/log_cleaned", 0) > 0
    assert [x for x in sim.check_invariants() if x.startswith("divergence")] == []
    v = sim.check()
    assert v.ok, str(v)


def _stale_follower_on_a_compacted_topic(validate):
    """history_fetch_epoch_validation.py's story on a compacted topic (keyed records)."""
    sim = ksim.Simulation(seed=1, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000", "ksim.eligible.leader.replicas": "false",
        "ksim.fetch.leader.epoch.validation": "true" if validate else "false"})
    sim.create_topic("t", assignment=[[1, 2, 3]], config={"cleanup.policy": "compact"})
    p = sim.producer({"acks": "1", "enable.idempotence": "false", "linger.ms": "0"})

    def put(key, value):
        p.produce("t", key=key, value=value, partition=0)
        p.flush(timeout_ms=5_000)

    put("a", "x1")
    sim.run_for(500)
    sim.network.drop(src=4, dst=3, api="MetadataFetch", direction="response", count=None)
    starve = sim.network.hold(src=1, dst=2, api="Fetch", direction="response", count=None)
    put("b", "y")                               # 1 and 3 have y; 2 does not
    sim.run_for(200)
    sim.crash(1)
    sim.network.discard(starve)
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 2, timeout_ms=30_000)
    sim.restart(1)
    sim.run_until(lambda: len(sim.describe_topic("t")[0].isr) >= 2 and sim.describe_topic("t")[0].isr[0] == 1,
                  timeout_ms=30_000)
    sim.elect_leaders(partitions=[("t", 0)])
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 1, timeout_ms=30_000)
    for i in range(5):
        put("c", f"z{i}")
    sim.run_for(5_000)
    return [x for x in sim.check_invariants() if x.startswith("divergence")]


def test_the_divergence_invariant_compares_a_compacted_logs_replicas_record_by_record():
    # Replicas clean on their own schedules, so their batches differ legitimately;
    # an offset both hold with different records is still a divergence.
    diverged = _stale_follower_on_a_compacted_topic(validate=False)
    assert len(diverged) == 1 and "hold different records at offset 1 (a compacted log)" in diverged[0]
    assert _stale_follower_on_a_compacted_topic(validate=True) == []


def test_a_later_value_whose_ack_never_came_supersedes_the_last_acknowledged_one():
    """'alice-v1' is acknowledged; 'alice-v2' lands but its answer is lost and the
    producer gives up on it (delivery.timeout.ms). The cleaner keeps only v2 —
    rightly: the checkers must not call v1 lost (the hunt's false alarms of
    seeds 528, 1404 and 1468, with a killed producer or late writes)."""
    sim = compacted_cluster()
    p = sim.producer({"linger.ms": "0", "enable.idempotence": "false", "retries": "0",
                      "request.timeout.ms": "1000", "delivery.timeout.ms": "1000"})
    outcomes = []
    p.produce("profiles", key="alice", value="alice-v1", partition=0, on_delivery=lambda e, m: outcomes.append(e))
    p.flush(timeout_ms=5_000)
    lost = sim.network.drop(src=sim.describe_topic("profiles")[0].leader, dst=p.id, api="Produce",
                            direction="response", count=None)
    p.produce("profiles", key="alice", value="alice-v2", partition=0, on_delivery=lambda e, m: outcomes.append(e))
    p.flush(timeout_ms=5_000)
    sim.network.release(lost)
    assert outcomes[0] is None and outcomes[1] is not None  # v1 acknowledged; v2 failed for the producer
    filler = sim.producer({"linger.ms": "0"})
    for i in range(20):                      # roll segments: the old ones become cleanable
        filler.produce("profiles", key=f"filler-{i}", value=b"x" * 40, partition=0)
        filler.flush(timeout_ms=5_000)
    sim.run_for(15_000)
    values = [v for _, k, v in read_all(sim) if k == "alice"]
    assert values == [b"alice-v2"]           # compacted: v1 superseded by the write whose ack was lost
    v = sim.check()
    assert not [a for a in v.violations if a.kind in ("compaction", "lost-write")], str(v)
