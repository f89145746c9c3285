"""ksim.hw.includes.pending.isr: without KIP-497's maximal ISR, an acks=all write is acknowledged and then lost.

Broker 3 falls out of the ISR and catches up; the leader's AlterPartition
adding it back is held in flight, and 3 gets nothing new. An acks=all write
now: with the old behaviour the leader computes its high watermark over the
committed ISR {1,2} and acknowledges; the expansion commits, brokers 1 and 2
crash, broker 3 — in the ISR — is elected cleanly without the write. With the
fix (the default) the high watermark waits for 3 too, and the write is never
acknowledged. The story runs both and EXPECTS the loss only with the switch off.
"""
import ksim


def story(seed: int, fixed: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000",
        "ksim.eligible.leader.replicas": "false",
        "ksim.hw.includes.pending.isr": "true" if fixed else "false",
    })
    sim.create_topic("t", assignment=[[1, 2, 3]])
    sim.disk_stall(3)
    sim.produce("t", 0, ["a"], acks="1")
    sim.run_until(lambda: len(sim.describe_topic("t")[0].isr) == 2, timeout_ms=20_000)
    alter = sim.network.hold(src=1, api="AlterPartition", count=None)
    sim.disk_stall(3, False)
    sim.run_until(lambda: sim.network.held(alter) > 0, timeout_ms=10_000)
    starve = sim.network.hold(src=1, dst=3, api="Fetch", direction="response", count=None)
    acked = sim.produce("t", 0, ["x"], acks="all", timeout_ms=2_000)["error"] is None
    sim.network.release(alter)
    sim.run_for(500)
    sim.crash(1)
    sim.crash(2)
    sim.network.discard(starve)
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 3, timeout_ms=30_000)
    survived = b"x" in [v for _, v in sim.log(3, "t", 0)]
    v = sim.check()
    print(f"{'fixed' if fixed else 'old  '}: acknowledged={acked} on new leader 3={survived}; "
          f"verdict {'ok' if v.ok else 'VIOLATED'}")
    return acked and not survived and any(a.kind == "lost-write" for a in v.violations)


def scenario(seed: int) -> bool:
    lost_with_old = story(seed, fixed=False)
    lost_with_fix = story(seed, fixed=True)
    return lost_with_old and not lost_with_fix


if __name__ == "__main__":
    ksim.main(scenario)
