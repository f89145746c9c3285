"""A slow follower disk shrinks the ISR, and the ISR grows back when the disk recovers.

Broker 3's disk becomes 200x slower: it cannot keep up with the writes, so
after replica.lag.time.max.ms the leader removes it from the ISR
(IsrShrinksPerSec counts it, UnderReplicatedPartitions becomes 1). When the
disk recovers it catches up and the leader adds it back (IsrExpandsPerSec).
Nothing is lost. The story EXPECTS the shrink, the expansion and a clean verdict.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"replica.lag.time.max.ms": "3000"})
    sim.create_topic("t", assignment=[[1, 2, 3]])
    sim.disk_stall(3)
    for i in range(20):
        sim.produce("t", 0, [f"m{i}"], acks="1")
        sim.run_for(300)
    shrunk = sim.run_until(lambda: 3 not in sim.describe_topic("t")[0].isr, timeout_ms=20_000)
    m = sim.metrics()
    print(sim.describe("t"))
    print(f"UnderReplicatedPartitions={m.get('UnderReplicatedPartitions')}, IsrShrinksPerSec={m.get('IsrShrinksPerSec')}")
    under = m.get("UnderReplicatedPartitions", 0) >= 1
    sim.disk_stall(3, False)
    grown = sim.run_until(lambda: 3 in sim.describe_topic("t")[0].isr, timeout_ms=30_000)
    m = sim.metrics()
    print(sim.describe("t"))
    print(f"IsrExpandsPerSec={m.get('IsrExpandsPerSec')}")
    v = sim.check()
    return shrunk and under and grown and m.get("IsrExpandsPerSec", 0) >= 1 and v.ok


if __name__ == "__main__":
    ksim.main(scenario)
