"""ksim.eligible.leader.replicas=false: without KIP-966's ELR, a partition whose last ISR member is gone stays offline although another replica has every committed record.

min.insync.replicas=2. Broker 3 and then broker 2 crash: the ISR shrinks to
{1} and acks=all writes are refused from then on, so 2 holds every committed
record. Then broker 1 crashes too and stays down. Brokers 2 and 3 come back.
Without ELR the controller only trusts the ISR {1}: the partition is offline
until broker 1 returns (or an unclean election risks data). With ELR, broker 2
was kept as an Eligible Leader Replica when it left the ISR below
min.insync.replicas, so it is elected cleanly and nothing is lost. The story
EXPECTS the outage only with the switch off, and a clean verdict both ways.
"""
import ksim


def story(seed: int, elr: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000",
        "min.insync.replicas": "2",
        "ksim.eligible.leader.replicas": "true" if elr else "false",
    })
    sim.create_topic("t", assignment=[[1, 2, 3]])
    assert sim.produce("t", 0, ["committed-1"], acks="all")["error"] is None
    sim.crash(3)
    sim.run_until(lambda: 3 not in sim.describe_topic("t")[0].isr, timeout_ms=30_000)
    assert sim.produce("t", 0, ["committed-2"], acks="all")["error"] is None
    sim.crash(2)
    sim.run_until(lambda: sim.describe_topic("t")[0].isr == [1], timeout_ms=30_000)
    print(f"elr={'on ' if elr else 'off'}: after 3 and 2 crashed: {sim.describe('t').splitlines()[-1].strip()}")
    sim.crash(1)
    sim.restart(2)
    sim.restart(3)
    sim.run_for(20_000)
    p = sim.describe_topic("t")[0]
    print(f"elr={'on ' if elr else 'off'}: 1 down, 2 and 3 back: leader={p.leader} isr={p.isr} elr={p.elr}")
    v = sim.check()  # brings 1 back too: either way, nothing acknowledged is lost
    return p.leader, v


def scenario(seed: int) -> bool:
    leader_without, v_without = story(seed, elr=False)
    leader_with, v_with = story(seed, elr=True)
    return leader_without is None and leader_with == 2 and v_without.ok and v_with.ok


if __name__ == "__main__":
    ksim.main(scenario)
