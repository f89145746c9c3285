"""acks=1: the leader acknowledges a write, crashes before any follower fetched it, and the write is gone.

The leader's Fetch responses are held, so no follower receives the new record.
The controller fences the crashed leader after broker.session.timeout.ms and
elects a follower; when the old leader returns it truncates by leader epoch.
Kafka's contract for acks=1 permits this loss: the checkers report an EXPECTED
lost-write (cause: acks=1), and the verdict stays ok. The story EXPECTS it.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1)
    sim.create_topic("orders", partitions=1, replication_factor=3)
    leader = sim.describe_topic("orders")[0].leader
    assert sim.produce("orders", 0, ["order-1"], acks="all")["error"] is None

    held = sim.network.hold(src=leader, api="Fetch", direction="response", count=None)
    acked = sim.produce("orders", 0, ["order-2"], acks="1")["error"] is None
    sim.crash(leader)
    sim.network.discard(held)
    sim.run_until(lambda: sim.describe_topic("orders")[0].leader not in (None, leader), timeout_ms=30_000)
    print(sim.describe("orders"))

    v = sim.check()  # heals, restarts the old leader, waits for convergence, judges
    lost = [a for a in v.anomalies if a.kind == "lost-write"]
    return acked and v.ok and len(lost) == 1 and lost[0].expected and lost[0].records == ["order-2"]


if __name__ == "__main__":
    ksim.main(scenario)
