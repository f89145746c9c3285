"""Log compaction: a compacted topic keeps every key's latest value; a tombstone (a None value) deletes a key.

Three users' profiles are updated five times each, then 'carol' is deleted
with a tombstone (a null value, not b""). Small segments roll, and each
broker's log cleaner compacts the rolled ones: older values go, leaving gaps
in the offsets; the latest values stay at the offsets they were acknowledged
at; the tombstone stays (delete.retention.ms has not passed) so a reader
learns that 'carol' is gone. The leader then restarts: its compacted log,
gaps and all, recovers from disk, and a new reader from offset 0 sees the
same compacted view. The `compaction` checker (every key's latest value
present, offsets increasing) and the others find nothing.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, config={"log.cleaner.backoff.ms": "1000",
                                                        "min.insync.replicas": "2"})
    sim.create_topic("profiles", partitions=1, replication_factor=3,
                     config={"cleanup.policy": "compact", "segment.bytes": "1000"})
    p = sim.producer({"linger.ms": "0"})
    for round_ in range(5):
        for user in ("alice", "bob", "carol"):
            p.produce("profiles", key=user, value=f"{user}-v{round_}", partition=0)
            p.flush(timeout_ms=5_000)
    p.produce("profiles", key="carol", value=None, partition=0)        # the tombstone
    for i in range(10):
        p.produce("profiles", key=f"filler-{i}", value=b"x" * 40, partition=0)
        p.flush(timeout_ms=5_000)
    sim.run_for(15_000)                                                # the cleaners run
    leader = sim.describe_topic("profiles")[0].leader
    print(sim.dump_log(leader, "profiles", 0).splitlines()[1])

    def read():
        c = sim.consumer({"auto.offset.reset": "earliest"})
        c.assign([ksim.TopicPartition("profiles", 0, offset=0)])
        out, end = [], sim.now + 3_000
        while sim.now < end:
            m = c.poll(timeout_ms=200)
            if m is not None and m.error() is None:
                out.append((m.offset(), m.key().decode(), m.value()))
        c.close()
        return out

    before = read()
    sim.crash(leader)
    sim.run_for(5_000)
    sim.restart(leader)
    sim.run_until(lambda s: s.quiescent(), timeout_ms=60_000)
    after = read()
    latest = {k: v for _, k, v in after}
    v = sim.check()
    print(f"read {len(before)} of 26 offsets before the restart, {len(after)} after; "
          f"alice={latest.get('alice')} carol={latest.get('carol')}; verdict ok={v.ok}")
    offsets = [o for o, _, _ in after]
    return (len(before) < 26 and [k for _, k, _ in before].count("alice") == 1
            and latest["alice"] == b"alice-v4" and latest["bob"] == b"bob-v4" and latest["carol"] is None
            and offsets == sorted(set(offsets)) and v.ok
            and not [a for a in v.anomalies if a.kind == "compaction"])


if __name__ == "__main__":
    ksim.main(scenario)
