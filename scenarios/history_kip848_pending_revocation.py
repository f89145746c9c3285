"""ksim.consumer.group.pending.revocation=ignore: a KIP-848 consumer group gives a partition pending revocation to a second member at once (KAFKA-16147): two owners.

Consumer A (group.protocol=consumer) joins alone and gets all four partitions.
Consumer B joins: the target gives B two of them. A must revoke them first;
the coordinator withholds them from B until A's heartbeat says they are gone
(revoke first, then assign). With the switch, partitions pending revocation
count as free: B gets them while A still reads them, and split-ownership
fires. The story EXPECTS split-ownership with the switch and none without.
"""
import ksim


def story(seed: int, mode: str) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, config={"ksim.consumer.group.pending.revocation": mode})
    sim.create_topic("t", partitions=4, replication_factor=3)
    p = sim.producer({})
    for i in range(200):
        p.produce("t", value=b"v%d" % i, partition=i % 4)
    p.flush(timeout_ms=10_000)
    cfg = {"group.id": "g", "group.protocol": "consumer", "auto.offset.reset": "earliest"}
    a = sim.consumer(cfg)
    a.subscribe(["t"])
    for _ in range(30):
        a.poll(timeout_ms=200)
    b = sim.consumer(cfg)
    b.subscribe(["t"])
    for _ in range(100):
        a.poll(timeout_ms=100)
        b.poll(timeout_ms=100)
    split = [x for x in sim.check().anomalies if x.kind == "split-ownership"]
    print(f"pending.revocation={mode:6}: A {sorted(x.partition for x in a.assignment())} "
          f"B {sorted(x.partition for x in b.assignment())}, split-ownership: {len(split)}")
    for x in split[:1]:
        print("  " + x.explanation.replace("\n", "\n  "))
    return bool(split) == (mode == "ignore")


def scenario(seed: int) -> bool:
    return story(seed, "fixed") and story(seed, "ignore")


if __name__ == "__main__":
    ksim.main(scenario)
