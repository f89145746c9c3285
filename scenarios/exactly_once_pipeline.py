"""Exactly-once: a consume-transform-produce pipeline survives crashes of its instances only with transactions.

Two pipeline instances read 'payments' and write one 'T:<value>' record to
'ledger' per input, committing their input offsets. Three times an instance
dies in the worst place: its outputs are written, but its offset commit (or its
transaction's end) never reaches the coordinator. At-least-once (send, flush, then commitSync):
a crash after the outputs were written but before the offsets were committed
makes the next owner redo the batch — outputs repeat (an expected
`exactly-once` anomaly: Kafka promises nothing more without transactions).
With transactions the outputs and the offsets commit together, and a restarted
instance's init_transactions fences its zombie and aborts what it left open:
every input below the committed offset has exactly one committed output.
"""
import ksim


def story(seed: int, transactional: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, config={"transaction.state.log.num.partitions": "3",
                                                        "offsets.topic.num.partitions": "3"})
    sim.create_topic("payments", partitions=3, replication_factor=3)
    sim.create_topic("ledger", partitions=3, replication_factor=3)
    sim.workload("payments", producers=1, rate_per_s=400, duration_ms=20_000, key_space=20)
    p = sim.pipeline("payments", "ledger", instances=2, transactional=transactional,
                     consumer_config={"max.poll.records": "50", "session.timeout.ms": "6000",
                                      "heartbeat.interval.ms": "1000", "max.poll.interval.ms": "10000"})
    sim.run_for(8_000)
    for i in range(3):
        victim = p.ids[i % 2]
        # The commit (OffsetCommit, or TxnOffsetCommit / EndTxn) is lost on the way ...
        lost = [sim.network.drop(src=victim, api=api, direction="request", count=None)
                for api in ("OffsetCommit", "TxnOffsetCommit", "EndTxn")]
        sim.run_for(1_500)
        sim.crash(victim)                    # ... and the instance dies before it can retry
        for rule in lost:
            sim.network.discard(rule)
        sim.run_for(500)
        sim.restart(victim)
        sim.run_for(4_000)
    sim.run_for(30_000)
    v = sim.check()
    repeats = [a for a in v.anomalies if a.kind == "exactly-once"]
    print(f"transactional={transactional}: {p}; exactly-once anomalies: {len(repeats)} "
          f"({sum(a.expected for a in repeats)} expected); verdict ok: {v.ok}")
    return repeats, v


def scenario(seed: int) -> bool:
    repeats_alo, v_alo = story(seed, transactional=False)
    repeats_eos, v_eos = story(seed, transactional=True)
    return (len(repeats_alo) >= 1 and all(a.expected for a in repeats_alo) and v_alo.ok
            and repeats_eos == [] and v_eos.ok)


if __name__ == "__main__":
    ksim.main(scenario)
