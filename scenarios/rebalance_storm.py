"""A rebalance storm: group members crash, restart and join over and over while records flow — and the group still reads everything, never two owners at once.

A producer workload writes 500 records/s to 6 partitions; four consumers in
one group (cooperative-sticky assignment, auto-commit) are crashed and
restarted one after another, one every 8 s for a minute: each crash and
return is a rebalance (the group first waits out the dead member's
session.timeout.ms). Crashed members' uncommitted records are read again by the
next owner (at-least-once), which is not an anomaly. The checkers look for
what must never happen — two members owning one partition in one generation
(`split-ownership`), a consumer skipping records (`poll-skip`), a lost or
unseen record — and the story EXPECTS none after a full read.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("clicks", partitions=6, replication_factor=3)
    w = sim.workload("clicks", producers=1, consumers=4, rate_per_s=500, duration_ms=75_000,
                     consumer_config={"group.id": "analytics", "auto.offset.reset": "earliest",
                                      "partition.assignment.strategy": "cooperative-sticky",
                                      "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"})
    sim.run_for(5_000)
    members = list(w.consumer_ids)
    generations = []
    for i in range(8):                           # a minute of churn
        victim = members[i % len(members)]
        sim.crash(victim)
        sim.run_for(500)
        sim.restart(victim)
        sim.run_for(7_500)
        generations.append(sim.describe_group("analytics").generation)
    sim.run_until(lambda: w.producers_finished and w.consumed >= w.acked, timeout_ms=120_000)
    g = sim.describe_group("analytics")
    print(f"acked {w.acked}, consumed {w.consumed} (rereads included); generations {generations[0]}..{g.generation}; "
          f"final state {g.state} with {len(g.members)} members")
    v = sim.check(full_read=True, unseen_is_violation=True)
    kinds = {a.kind for a in v.anomalies}
    return (v.ok and not kinds & {"split-ownership", "poll-skip", "unseen", "lost-write"}
            and g.generation - generations[0] >= 5 and w.consumed >= w.acked > 30_000)


if __name__ == "__main__":
    ksim.main(scenario)
