"""acks=all: the same leader crash loses nothing — the write was on every ISR member before the ack.

Same story as acks1_leader_crash.py, but the producer asks for acks=all with
min.insync.replicas=2: the acknowledgement waits until the followers have the
record, so the new leader has it. The story EXPECTS a clean verdict.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("orders", partitions=1, replication_factor=3)
    leader = sim.describe_topic("orders")[0].leader
    acked = sim.produce("orders", 0, ["order-2"], acks="all")["error"] is None
    sim.crash(leader)
    sim.run_until(lambda: sim.describe_topic("orders")[0].leader not in (None, leader), timeout_ms=30_000)
    new_leader = sim.describe_topic("orders")[0].leader
    print(sim.describe("orders"))
    print(f"acknowledged: {acked}; new leader: {new_leader}")
    v = sim.check()
    return acked and v.ok and v.anomalies == [] and v.stats.acked == 1


if __name__ == "__main__":
    ksim.main(scenario)
