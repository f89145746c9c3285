"""acks=all: the same leader crash loses nothing — the write was on every ISR member before the ack.

Same story as acks1_leader_crash.py, but the producer asks for acks=all with
min.insync.replicas=2: the acknowledgement waits until the followers have the
record, so the new leader has it. The story EXPECTS no loss.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("orders", partitions=1, replication_factor=3)
    leader = sim.describe_topic("orders")[0].leader
    acked = sim.produce("orders", 0, ["order-2"], acks="all")
    sim.crash(leader)
    sim.run_until(lambda: sim.describe_topic("orders")[0].leader not in (None, leader), timeout_ms=30_000)
    new_leader = sim.describe_topic("orders")[0].leader
    survived = b"order-2" in [v for _, v in sim.log(new_leader, "orders", 0)]
    print(sim.describe("orders"))
    print(f"acknowledged: {acked['error'] is None}; on the new leader {new_leader}: {survived}")
    return acked["error"] is None and survived and sim.check_invariants() == []


if __name__ == "__main__":
    ksim.main(scenario)
