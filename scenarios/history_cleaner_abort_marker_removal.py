"""ksim.cleaner.abort.marker.removal=early: a partial cleaning turns an aborted transaction into committed data (KAFKA-13727).

A compacted topic's log cleaner builds an offset map of the dirty section; a
small map (log.cleaner.dedupe.buffer.size) fills before the section's end, and
the pass stops there — in the middle of a segment, whose tail it copies over
uncleaned. Behind the stop point sits an ABORTED transaction. Before
KAFKA-13727's fix the cleaner collected the aborted transactions of the mapped
range only, so the rebuilt segment's transaction index lost this one: its data
stayed in the log with nothing saying it was aborted, and a read_committed
consumer returns it — an `aborted-read` violation. With the fix (the default)
the aborted transactions of every rewritten segment are kept and the reader
sees only committed records.
"""
import ksim

KEYS = 30


def story(seed: int, removal: str):
    sim = ksim.Simulation(seed=seed, brokers=3, config={
        "ksim.cleaner.abort.marker.removal": removal,
        "log.cleaner.dedupe.buffer.size": "240",       # an offset map of 9 keys
        "log.cleaner.backoff.ms": "1000",
        "transaction.state.log.num.partitions": "3"})
    sim.create_topic("accounts", partitions=1, replication_factor=3,
                     config={"cleanup.policy": "compact", "segment.bytes": "3000"})
    plain = sim.producer({"linger.ms": "0"})

    def put(i):
        plain.produce("accounts", key=f"k{i}", value=f"v{i}", partition=0)
        plain.flush(timeout_ms=5_000)

    for i in range(12):                              # the map fills after k8: the pass stops at k9
        put(i)
    tx = sim.producer({"transactional.id": "accounts-app", "linger.ms": "0"})
    tx.init_transactions()
    tx.begin_transaction()
    tx.produce("accounts", key="x", value="aborted-1", partition=0)
    tx.flush(timeout_ms=5_000)
    tx.abort_transaction()
    for i in range(12, 12 + KEYS):                   # enough to roll the segment: it becomes cleanable
        put(i)
    sim.run_for(20_000)                              # the cleaner thread finds the log and cleans it
    c = sim.consumer({"isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("accounts", 0, offset=0)])
    seen = []
    end = sim.now + 5_000
    while sim.now < end:
        m = c.poll(timeout_ms=200)
        if m is not None and m.error() is None:
            seen.append(m.value().decode())
    v = sim.check()
    aborted = [a for a in v.violations if a.kind == "aborted-read"]
    print(f"removal={removal}: read_committed saw {len(seen)} records, aborted-1 among them: "
          f"{'aborted-1' in seen}; aborted-read: {len(aborted)}")
    return seen, aborted, v


def scenario(seed: int) -> bool:
    seen_bug, aborted_bug, _ = story(seed, "early")
    seen_fix, aborted_fix, v_fix = story(seed, "safe")
    return ("aborted-1" in seen_bug and len(aborted_bug) >= 1
            and "aborted-1" not in seen_fix and aborted_fix == [] and v_fix.ok)


if __name__ == "__main__":
    ksim.main(scenario)
