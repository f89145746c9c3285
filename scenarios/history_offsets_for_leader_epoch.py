"""ksim.offsets.for.leader.epoch=kip-101: without KIP-279's answer two replicas keep different records below the high watermark.

Broker 1 writes m1 in epoch 0 that broker 2 never gets; 1 dies, 2 leads
(epoch 1) and writes m2 at the same offset; 2 dies, 1 is elected by an
admin-forced unclean election (epoch 2: it never had epoch 1). When 2 returns
it asks 1 where its epoch 1 ends. KIP-101's answer (only an offset: where the
next epoch starts) leaves 2 keeping m2 where 1 has m1 — the replicas diverge
below the high watermark. KIP-279's answer (the largest epoch 1 has at or
below, with its end offset) makes 2 truncate. The checkers' online invariant
reports the `divergence`. The story EXPECTS it only with kip-101.
"""
import ksim


def story(seed: int, answer: str):
    sim = ksim.Simulation(seed=seed, brokers=2, controllers=1, config={
        "replica.lag.time.max.ms": "2000",
        "ksim.eligible.leader.replicas": "false",
        "ksim.offsets.for.leader.epoch": answer,
    })
    sim.create_topic("t", assignment=[[1, 2]])
    assert sim.produce("t", 0, ["m0"], acks="all")["error"] is None
    starve = sim.network.hold(src=1, dst=2, api="Fetch", direction="response", count=None)
    sim.produce("t", 0, ["m1"], acks="1")          # epoch 0, only on broker 1
    sim.crash(1)
    sim.network.discard(starve)
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 2, timeout_ms=30_000)
    sim.run_for(1_000)
    sim.produce("t", 0, ["m2"], acks="1")          # epoch 1, only on broker 2, at m1's offset
    sim.crash(2)
    sim.restart(1)
    sim.run_for(12_000)
    sim.elect_leaders(unclean=True, partitions=[("t", 0)])  # offline: the admin forces it
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 1, timeout_ms=30_000)
    sim.run_for(1_000)
    sim.produce("t", 0, ["m3"], acks="1")
    sim.restart(2)
    sim.run_until(lambda: len(sim.describe_topic("t")[0].isr) == 2, timeout_ms=30_000)
    sim.produce("t", 0, ["m4"], acks="all")
    sim.run_for(2_000)
    v = sim.check()
    diverged = any(a.kind == "divergence" for a in v.violations)
    print(f"{answer}: replicas diverge below the HW: {diverged}")
    return diverged


def scenario(seed: int) -> bool:
    return story(seed, "kip-101") and not story(seed, "kip-279")


if __name__ == "__main__":
    ksim.main(scenario)
