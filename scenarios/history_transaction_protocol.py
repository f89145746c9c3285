"""ksim.transaction.protocol=v1: a late write of an aborted transaction is committed by the next one (KIP-890).

A transactional producer writes 'debit-1' to its partition; the Produce request
(and every retry) is stuck in the network past delivery.timeout.ms, so the
send fails and the application aborts the transaction. Then the stuck request
arrives. Before KIP-890 (v1) nothing stops it: the partition leader appends it
— the abort marker is already behind it — and it opens a transaction the
coordinator knows nothing about. The producer's next transaction writes to the
same partition and commits: its COMMIT marker commits the stray record too. A
read_committed consumer returns 'debit-1', a record of an ABORTED transaction:
an `aborted-read` violation (without a next transaction the partition would
hang instead: its last stable offset stuck at the stray record, which
`check()` reports as a `liveness` violation — tests/python/test_transactions.py). With KIP-890
(v2, the default) every EndTxn bumps the producer epoch and the leader asks the
coordinator before the first write of a transaction: the late write is refused
(INVALID_PRODUCER_EPOCH) and the reader sees only the committed transaction.
"""
import ksim


def story(seed: int, protocol: str):
    sim = ksim.Simulation(seed=seed, brokers=3, config={"ksim.transaction.protocol": protocol,
                                                        "transaction.state.log.num.partitions": "3"})
    sim.create_topic("payments", partitions=1, replication_factor=3)
    p = sim.producer({"transactional.id": "payments-app", "request.timeout.ms": "1000",
                      "delivery.timeout.ms": "3000", "linger.ms": "0"})
    p.init_transactions()
    p.begin_transaction()
    leader = sim.describe_topic("payments")[0].leader
    stuck = sim.network.hold(src=p.id, dst=leader, api="Produce", direction="request", count=None)
    p.produce("payments", value=b"debit-1", partition=0)
    p.flush(timeout_ms=10_000)                    # the send expires: the transaction must abort
    try:
        p.commit_transaction()
        commit = "committed"
    except ksim.KafkaException:
        commit = "refused"
    p.abort_transaction()
    sim.network.release(stuck)                    # ... and now the stuck write arrives
    sim.run_for(1_000)
    p.begin_transaction()
    p.produce("payments", value=b"credit-2", partition=0)
    p.commit_transaction()
    c = sim.consumer({"isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("payments", 0, offset=0)])
    seen = []
    end = sim.now + 5_000
    while sim.now < end:
        m = c.poll(timeout_ms=200)
        if m is not None and m.error() is None:
            seen.append(m.value().decode())
    v = sim.check()
    aborted = [a for a in v.violations if a.kind == "aborted-read"]
    print(f"protocol={protocol}: first commit {commit}; read_committed saw {seen}; aborted-read: {len(aborted)}")
    return commit, seen, aborted, v


def scenario(seed: int) -> bool:
    commit_v1, seen_v1, aborted_v1, _ = story(seed, "v1")
    commit_v2, seen_v2, aborted_v2, v2 = story(seed, "v2")
    return (commit_v1 == "refused" and "debit-1" in seen_v1 and len(aborted_v1) >= 1
            and commit_v2 == "refused" and seen_v2 == ["credit-2"] and aborted_v2 == [] and v2.ok)


if __name__ == "__main__":
    ksim.main(scenario)
