"""ksim.eligible.leader.replicas=false: without KIP-966's ELR, a partition whose last ISR member is gone stays offline although another replica has every committed record.

min.insync.replicas=2. Brokers 3 and then 2 are stopped cleanly (controlled
shutdown): the ISR shrinks to {1} and acks=all writes are refused from then
on, so 2 holds every committed record. Then broker 1 crashes and stays down;
2 and 3 come back. Without ELR the controller only trusts the ISR {1}: the
partition is offline until broker 1 returns. With ELR, broker 2 was kept as
an Eligible Leader Replica when it left the ISR below min.insync.replicas, and
its clean-shutdown file proves it lost nothing since: it is elected cleanly.

The third run is KIP-966's other half: 3 and 2 are KILLED instead. A broker
that cannot prove a clean stop may have lost unflushed records, so when it
registers again the controller takes it out of the ELR. Nobody eligible is
left; the partition waits for its last known leader, broker 1, which leads
again (an unclean election, allowed by KIP-966 without
unclean.leader.election.enable). The story EXPECTS the outage with the switch
off, a clean ELR election after clean stops, the wait after crashes, and a
clean verdict every time (a killed process keeps its page cache).
"""
import ksim


def story(seed: int, elr: bool, stop: str):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000",
        "min.insync.replicas": "2",
        "ksim.eligible.leader.replicas": "true" if elr else "false",
    })
    sim.create_topic("t", assignment=[[1, 2, 3]])
    assert sim.produce("t", 0, ["committed-1"], acks="all")["error"] is None
    halt = sim.shutdown if stop == "shutdown" else sim.crash
    halt(3)
    sim.run_until(lambda: 3 not in sim.describe_topic("t")[0].isr, timeout_ms=30_000)
    assert sim.produce("t", 0, ["committed-2"], acks="all")["error"] is None
    halt(2)
    sim.run_until(lambda: sim.describe_topic("t")[0].isr == [1], timeout_ms=30_000)
    label = f"elr={'on ' if elr else 'off'} {stop:8}"
    print(f"{label}: 3 and 2 stopped: {sim.describe('t').splitlines()[-1].strip()}")
    sim.crash(1)
    sim.restart(2)
    sim.restart(3)
    sim.run_for(20_000)
    p = sim.describe_topic("t")[0]
    print(f"{label}: 1 down, 2 and 3 back: leader={p.leader} isr={p.isr} elr={p.elr} last_known_elr={p.last_known_elr}")
    after_restart = p.leader
    if stop == "crash":
        sim.restart(1)
        sim.run_until(lambda: sim.describe_topic("t")[0].leader is not None, timeout_ms=30_000)
        print(f"{label}: 1 back: leader={sim.describe_topic('t')[0].leader} "
              f"(unclean elections: {sim.metrics().get('UncleanLeaderElectionsPerSec', 0):.0f})")
    v = sim.check()  # brings every broker back: nothing acknowledged may be lost
    return after_restart, sim.describe_topic("t")[0].leader, v


def scenario(seed: int) -> bool:
    without, _, v_without = story(seed, elr=False, stop="shutdown")
    with_elr, _, v_with = story(seed, elr=True, stop="shutdown")
    waiting, recovered, v_crash = story(seed, elr=True, stop="crash")
    return (without is None and with_elr == 2 and waiting is None and recovered == 1
            and v_without.ok and v_with.ok and v_crash.ok)


if __name__ == "__main__":
    ksim.main(scenario)
