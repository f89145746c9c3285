"""A rolling restart (controlled shutdowns, one broker at a time, waiting for a full ISR in between) loses no acknowledged write.

Writes with acks=all and min.insync.replicas=2 go on throughout. Each broker
is restarted in turn; before the next one goes down the cluster waits until
every partition has its full ISR again — the operator's rule that keeps two
in-sync copies at all times. The story EXPECTS every acknowledged write to
survive and a clean verdict.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("t", partitions=3, replication_factor=3)
    n = 0
    for broker in (1, 2, 3):
        for _ in range(5):
            sim.produce("t", n % 3, [f"w{n}"], acks="all", timeout_ms=3_000)
            n += 1
        sim.shutdown(broker)  # controlled: its leaderships move first
        for _ in range(5):
            sim.produce("t", n % 3, [f"w{n}"], acks="all", timeout_ms=3_000)
            n += 1
            sim.run_for(200)
        sim.restart(broker)
        full = sim.run_until(lambda: all(len(p.isr) == 3 for p in sim.describe_topic("t")), timeout_ms=60_000)
        print(f"restarted broker {broker}; full ISR again: {full}")
        if not full:
            return False
    v = sim.check()
    print(f"acked {v.stats.acked} of {v.stats.sends} writes")
    return v.ok and v.anomalies == [] and v.stats.acked >= 15


if __name__ == "__main__":
    ksim.main(scenario)
