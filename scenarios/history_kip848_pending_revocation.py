"""ksim.consumer.group.pending.revocation=ignore: a KIP-848 consumer group gives a partition pending revocation to a second member at once (KAFKA-16147): two owners.

Consumer A (group.protocol=consumer) joins alone and gets all four partitions.
Consumer B joins: the target gives B two of them. A must revoke them first —
and A is slow to: its commit-before-revoke hangs (its OffsetCommit requests
are held for 12 s). The coordinator withholds the two partitions from B
until A's heartbeat says they are gone (revoke first, then assign), then B
gets them at its next heartbeat. With the switch, partitions pending
revocation count as free: B gets them while A still reads them, and
split-ownership fires. The story EXPECTS split-ownership with the switch and
none without, and in both runs B owning two partitions in the end.

Beside it, a classic group (group.protocol=classic, the default) reads the
same topic: describe_group shows the two protocols side by side — a
generation for the classic group; a group epoch, a target assignment epoch
and member epochs for the consumer group.
"""
import ksim


def story(seed: int, mode: str) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, config={"ksim.consumer.group.pending.revocation": mode})
    sim.create_topic("t", partitions=4, replication_factor=3)
    p = sim.producer({})
    for i in range(200):
        p.produce("t", value=b"v%d" % i, partition=i % 4)
    p.flush(timeout_ms=10_000)

    def poll_for(ms, consumers):
        # Each poll returns at most one message: time moves by sim.run_for.
        for _ in range(ms // 100):
            for c in consumers:
                while c.poll(timeout_ms=10) is not None:
                    pass
            sim.run_for(100)

    classic = sim.consumer({"group.id": "classic-readers", "auto.offset.reset": "earliest"})
    classic.subscribe(["t"])
    cfg = {"group.id": "g", "group.protocol": "consumer", "auto.offset.reset": "earliest"}
    a = sim.consumer(cfg)
    a.subscribe(["t"])
    poll_for(8_000, [a, classic])
    slow = sim.network.hold(src=a.id, api="OffsetCommit", direction="request", count=None)
    b = sim.consumer(cfg)
    b.subscribe(["t"])
    poll_for(12_000, [a, b, classic])
    sim.network.release(slow)
    poll_for(12_000, [a, b, classic])

    split = [x for x in sim.check().anomalies if x.kind == "split-ownership"]
    a_parts = sorted(x.partition for x in a.assignment())
    b_parts = sorted(x.partition for x in b.assignment())
    g, cg = sim.describe_group("g"), sim.describe_group("classic-readers")
    print(f"pending.revocation={mode:6}: A {a_parts} B {b_parts}, split-ownership: {len(split)}")
    print(f"  classic-readers: protocol {cg.group_protocol}, generation {cg.generation}; "
          f"g: protocol {g.group_protocol}, group epoch {g.group_epoch}, assignment epoch {g.assignment_epoch}, "
          f"member epochs {sorted(m.member_epoch for m in g.members)}")
    for x in split[:1]:
        print("  " + x.explanation.replace("\n", "\n  "))
    side_by_side = (cg.group_protocol == "classic" and cg.group_epoch is None and g.group_protocol == "consumer"
                    and g.group_epoch == g.assignment_epoch == 2 and all(m.member_epoch == 2 for m in g.members))
    return bool(split) == (mode == "ignore") and len(b_parts) == 2 and len(a_parts) == 2 and side_by_side


def scenario(seed: int) -> bool:
    return story(seed, "fixed") and story(seed, "ignore")


if __name__ == "__main__":
    ksim.main(scenario)
