"""acks=1: the leader acknowledges a write, crashes before any follower fetched it, and the write is gone.

The leader's Fetch responses are held, so no follower receives the new record.
The controller fences the crashed leader after broker.session.timeout.ms and
elects a follower; when the old leader returns it truncates by leader epoch.
Kafka's contract for acks=1 permits this loss; the story EXPECTS it.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1)
    sim.create_topic("orders", partitions=1, replication_factor=3)
    leader = sim.describe_topic("orders")[0].leader
    assert sim.produce("orders", 0, ["order-1"], acks="all")["error"] is None

    held = sim.network.hold(src=leader, api="Fetch", direction="response", count=None)
    acked = sim.produce("orders", 0, ["order-2"], acks="1")
    sim.crash(leader)
    sim.network.discard(held)
    sim.run_until(lambda: sim.describe_topic("orders")[0].leader not in (None, leader), timeout_ms=30_000)
    sim.restart(leader)
    sim.run_for(10_000)

    print(sim.describe("orders"))
    everywhere = [[v for _, v in sim.log(b, "orders", 0)] for b in (1, 2, 3)]
    lost = acked["error"] is None and all(b"order-2" not in log for log in everywhere)
    kept = all(b"order-1" in log for log in everywhere)
    print(f"order-2 acknowledged: {acked['error'] is None}; lost everywhere: {lost}; trace {sim.trace_hash()}")
    return lost and kept and sim.check_invariants() == []


if __name__ == "__main__":
    ksim.main(scenario)
