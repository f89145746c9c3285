"""Unclean leader election: an out-of-sync replica becomes leader and acknowledged writes vanish; a clean election waits instead.

Broker 3 falls behind (its disk stalls) and leaves the ISR; writes go on with
ISR {1,2} (min.insync.replicas=1, acks=all). Then 1 and 2 crash. With
unclean.leader.election.enable=true the controller elects 3, which never had
the recent writes: they are lost — EXPECTED, the cause is the unclean election.
With it false (the default) the partition stays offline until an in-sync
replica returns, and nothing is lost. The story runs both.
"""
import ksim


def story(seed: int, unclean: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000",
        "unclean.leader.election.enable": "true" if unclean else "false",
        "ksim.eligible.leader.replicas": "false",
    })
    sim.create_topic("t", assignment=[[1, 2, 3]])
    sim.disk_stall(3)
    sim.run_until(lambda: sim.describe_topic("t")[0].isr == [1, 2], timeout_ms=20_000)
    acked = [sim.produce("t", 0, [f"w{i}"], acks="all")["error"] is None for i in range(3)]
    sim.crash(1)
    sim.crash(2)
    sim.disk_stall(3, False)
    sim.run_for(20_000)
    leader = sim.describe_topic("t")[0].leader
    print(f"unclean={unclean}: acked {sum(acked)} writes; leader after the crashes: {leader}")
    v = sim.check()
    lost = [a for a in v.anomalies if a.kind == "lost-write"]
    return all(acked), leader, v, lost


def scenario(seed: int) -> bool:
    acked_u, leader_u, v_u, lost_u = story(seed, unclean=True)
    acked_c, leader_c, v_c, lost_c = story(seed, unclean=False)
    unclean_lost = leader_u == 3 and len(lost_u) >= 1 and all(a.expected and "unclean" in a.cause for a in lost_u)
    clean_waited = leader_c is None and lost_c == [] and v_c.ok
    return acked_u and acked_c and unclean_lost and v_u.ok and clean_waited


if __name__ == "__main__":
    ksim.main(scenario)
