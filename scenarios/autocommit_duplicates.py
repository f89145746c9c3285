"""Auto-commit duplicates after a consumer crash: records read since the last auto-commit are delivered again.

enable.auto.commit=true commits the position every auto.commit.interval.ms
(5 s), inside poll(). The consumer reads 30 records and crashes 2 s after its
last auto-commit; its partitions move to the other member of the group, which
starts from the committed offset — so the records read in those 2 s are read
twice. That is Kafka's at-least-once delivery: the verdict stays ok (a reread
from the committed offset after a rebalance is not an anomaly), and the story
EXPECTS the redelivery.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1)
    sim.create_topic("orders", partitions=1, replication_factor=3)
    p = sim.producer({"acks": "all"})
    for i in range(60):
        p.produce("orders", value=f"order-{i}".encode(), partition=0)
    p.flush(timeout_ms=30_000)

    conf = {"group.id": "billing", "auto.offset.reset": "earliest", "enable.auto.commit": "true",
            "auto.commit.interval.ms": "5000", "session.timeout.ms": "6000", "heartbeat.interval.ms": "2000"}
    first = sim.consumer(dict(conf, **{"client.id": "billing-1"}))
    first.subscribe(["orders"])
    seen_first = []
    while len(seen_first) < 30:
        m = first.poll(timeout_ms=1_000)
        if m is not None:
            seen_first.append(m.value())
            sim.run_for(200)                     # processing time: auto-commits happen on the way
    sim.crash(first.id)                          # no final commit: the JVM died

    second = sim.consumer(dict(conf, **{"client.id": "billing-2"}))
    second.subscribe(["orders"])
    seen_second = []
    deadline = sim.now + 60_000                  # the group first waits out the dead member's session
    while len(seen_second) < 60 and sim.now < deadline:
        m = second.poll(timeout_ms=2_000)
        if m is not None:
            seen_second.append(m.value())
    again = sorted(set(seen_first) & set(seen_second), key=lambda v: int(v.split(b"-")[1]))
    print(f"first consumer read {len(seen_first)}, second read {len(seen_second)}; delivered twice: "
          f"{again[0].decode()}..{again[-1].decode()} ({len(again)} records)" if again else "no redelivery")
    v = sim.check()
    everything = set(seen_first) | set(seen_second) == {f"order-{i}".encode() for i in range(60)}
    return 0 < len(again) < 30 and everything and v.ok


if __name__ == "__main__":
    ksim.main(scenario)
