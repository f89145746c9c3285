"""A partitioned old leader is fenced by the leader epoch: it cannot commit anything, and nothing acknowledged is lost.

The leader is cut off from the other brokers and the controller (clients can
still reach it, the classic Jepsen split). It keeps accepting appends, but an
acks=all write cannot be acknowledged: its followers cannot fetch and the
controller — which fences it after broker.session.timeout.ms and elects a new
leader with a higher epoch — rejects its AlterPartition. After the heal the old
leader learns the new epoch, truncates its orphaned appends and follows. The
story EXPECTS the write to time out (unknown outcome), the new epoch, and a
clean verdict.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("t", partitions=1, replication_factor=3)
    before = sim.describe_topic("t")[0]
    old = before.leader
    others = [n for n in (1, 2, 3, 4) if n != old]
    sim.partition([[old], others])
    stranded = sim.produce("t", 0, ["to-the-old-leader"], acks="all", timeout_ms=3_000)
    sim.run_until(lambda: sim.describe_topic("t")[0].leader not in (None, old), timeout_ms=30_000)
    after = sim.describe_topic("t")[0]
    print(sim.describe("t"))
    fresh = sim.produce("t", 0, ["to-the-new-leader"], acks="all")
    sim.heal()
    sim.run_for(5_000)
    v = sim.check()
    print(f"old leader {old} (epoch {before.leader_epoch}) -> new leader {after.leader} (epoch {after.leader_epoch}); "
          f"write to the old leader: {stranded['error']}")
    return (stranded["error"] is not None and after.leader_epoch > before.leader_epoch
            and fresh["error"] is None and v.ok and v.anomalies == [])


if __name__ == "__main__":
    ksim.main(scenario)
