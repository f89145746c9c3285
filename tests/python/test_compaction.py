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
