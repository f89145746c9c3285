"""ksim.fetch.leader.epoch.validation=false: before KIP-320 a follower with stale metadata diverges below the high watermark.

Broker 3 stops learning metadata (its MetadataFetch responses are dropped).
Broker 1 writes y (acks=1) that 3 gets and 2 does not; 1 dies, 2 leads; 1
returns, truncates y away and becomes leader again in a newer epoch. Broker 3,
still believing the OLD epoch, keeps fetching from 1: without epoch validation
1 serves it at its old end offset, past the point where their logs differ, and
3 rejoins the ISR with y where the others have something else. With KIP-320
the fetches carry the leader epoch and are fenced until 3 catches up on
metadata. The checkers report `divergence` only with validation off.
"""
import ksim


def story(seed: int, validate: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000",
        "ksim.eligible.leader.replicas": "false",
        "ksim.fetch.leader.epoch.validation": "true" if validate else "false",
    })
    sim.create_topic("t", assignment=[[1, 2, 3]])
    assert sim.produce("t", 0, ["x1"], acks="all")["error"] is None
    sim.network.drop(src=4, dst=3, api="MetadataFetch", direction="response", count=None)
    starve = sim.network.hold(src=1, dst=2, api="Fetch", direction="response", count=None)
    sim.produce("t", 0, ["y"], acks="1")        # 1 and 3 have y; 2 does not
    sim.run_for(200)
    sim.crash(1)
    sim.network.discard(starve)
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 2, timeout_ms=30_000)
    sim.restart(1)                               # a follower of 2 now: y is truncated away
    sim.run_until(lambda: len(sim.describe_topic("t")[0].isr) >= 2 and sim.describe_topic("t")[0].isr[0] == 1,
                  timeout_ms=30_000)
    sim.elect_leaders(partitions=[("t", 0)])     # preferred: 1 leads again, in a newer epoch
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 1, timeout_ms=30_000)
    for i in range(5):
        sim.produce("t", 0, [f"z{i}"], acks="1")
    sim.run_for(5_000)
    diverged = any(x.startswith("divergence") for x in sim.check_invariants())
    print(f"validation={'on' if validate else 'off'}: stale follower diverges below the HW: {diverged}")
    return diverged


def scenario(seed: int) -> bool:
    return story(seed, validate=False) and not story(seed, validate=True)


if __name__ == "__main__":
    ksim.main(scenario)
