"""ksim.raft.pre.vote=false: a KRaft voter cut off from the others keeps standing for election, and when the network heals its higher epoch deposes a healthy leader; KIP-996's pre-vote keeps its epoch still and it simply follows the leader again.

Three dedicated controllers (4, 5, 6). A follower voter is partitioned away
for 15 s. Without pre-vote it times out, becomes Candidate and bumps the epoch
every few seconds; its first Vote request after the heal carries an epoch
higher than the leader's, which forces the leader out (Kafka before 4.0): a
needless election and a new leader. With pre-vote it only ever becomes
Prospective — it asks "would you vote for me?" without bumping the epoch — and
after the heal the voters that hear from the live leader say no: the leader
and epoch are unchanged. Both runs keep every committed record (verdict ok).
"""
import ksim


def story(seed: int, pre_vote: bool):
    cfg = {} if pre_vote else {"ksim.raft.pre.vote": "false"}
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3, config=cfg)
    sim.create_topic("t", partitions=1, replication_factor=3)
    sim.run_for(3_000)
    before = sim.describe_quorum()
    cut = [v["id"] for v in before["voters"] if v["id"] != before["leader_id"]][0]
    label = f"pre-vote {'on ' if pre_vote else 'off'}"
    print(f"{label}: leader {before['leader_id']} in epoch {before['leader_epoch']}; voter {cut} cut off for 15 s")
    sim.partition([[cut], [n for n in range(1, 7) if n != cut]])
    sim.run_for(15_000)
    sim.heal()
    sim.run_for(5_000)
    after = sim.describe_quorum()
    print(f"{label}: after the heal: leader {after['leader_id']} in epoch {after['leader_epoch']}")
    return before, after, sim.check()


def scenario(seed: int) -> bool:
    b_off, a_off, v_off = story(seed, pre_vote=False)
    b_on, a_on, v_on = story(seed, pre_vote=True)
    deposed = a_off["leader_epoch"] > b_off["leader_epoch"] and a_off["leader_id"] != b_off["leader_id"]
    kept = (a_on["leader_id"], a_on["leader_epoch"]) == (b_on["leader_id"], b_on["leader_epoch"])
    return deposed and kept and v_off.ok and v_on.ok


if __name__ == "__main__":
    ksim.main(scenario)
