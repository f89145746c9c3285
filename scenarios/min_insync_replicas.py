"""min.insync.replicas=2: once the ISR shrinks to the leader alone, acks=all writes are refused.

Both followers crash. After replica.lag.time.max.ms the leader shrinks the
ISR to itself, and produce requests with acks=all fail with
NOT_ENOUGH_REPLICAS — before anything is appended, so the history records a
definite failure, not a loss. acks=1 writes are still accepted (no durability
promise). When the followers return the ISR grows back and acks=all works
again. The story EXPECTS the refusal and a clean verdict.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1)
    sim.create_topic("t", partitions=1, replication_factor=3, config={"min.insync.replicas": "2"})
    p = sim.describe_topic("t")[0]
    followers = [b for b in p.replicas if b != p.leader]
    for b in followers:
        sim.crash(b)
    sim.run_until(lambda: sim.describe_topic("t")[0].isr == [p.leader], timeout_ms=60_000)
    print(sim.describe("t"))
    refused = sim.produce("t", 0, ["needs-two"], acks="all")["error"]
    weak = sim.produce("t", 0, ["one-is-enough"], acks="1")["error"]
    print(f"acks=all with ISR {sim.describe_topic('t')[0].isr}: {refused}; acks=1: {weak or 'ok'}")
    for b in followers:
        sim.restart(b)
    sim.run_until(lambda: len(sim.describe_topic("t")[0].isr) == 3, timeout_ms=60_000)
    again = sim.produce("t", 0, ["two-again"], acks="all")["error"]
    v = sim.check()
    return refused == "NOT_ENOUGH_REPLICAS" and weak is None and again is None and v.ok and v.stats.failed == 1


if __name__ == "__main__":
    ksim.main(scenario)
