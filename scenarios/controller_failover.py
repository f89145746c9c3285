"""Controller failover: the active KRaft controller dies, another voter takes over, and the cluster keeps working.

Three dedicated controllers run the metadata quorum. The active one crashes;
the remaining two elect a new leader of the metadata log (a higher quorum
epoch) within the election timeout. Brokers heartbeat to the new controller,
topic creation works, and a broker failure after the failover is still handled
(its leaderships move). The story EXPECTS a new active controller and a clean
verdict.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3)
    sim.create_topic("before", partitions=2, replication_factor=3)
    first = sim.active_controller()
    sim.crash(first)
    moved = sim.run_until(lambda: sim.active_controller() not in (None, first), timeout_ms=30_000)
    second = sim.active_controller()
    sim.create_topic("after", partitions=2, replication_factor=3)
    leader = sim.describe_topic("after")[0].leader
    sim.crash(leader)
    reelected = sim.run_until(lambda: sim.describe_topic("after")[0].leader not in (None, leader), timeout_ms=30_000)
    sim.wait_for_leader("after", 0)
    ok = sim.produce("after", 0, ["still-working"], acks="all")["error"] is None
    print(f"active controller {first} -> {second}; 'after'-0 leader {leader} -> {sim.describe_topic('after')[0].leader}")
    v = sim.check()
    return moved and reelected and ok and v.ok


if __name__ == "__main__":
    ksim.main(scenario)
