"""ksim.raft.directory.id=false: a KRaft voter whose disk was wiped comes back empty, votes for a lagging voter, and a committed metadata record (a topic's creation) disappears; KIP-853's directory ids make it an observer and nothing is lost.

Three dedicated controllers (4, 5, 6). One follower is cut off and lags while
the topic "orders" is created: the leader and the other follower commit it.
Then the leader crashes and the up-to-date follower's drive is replaced
(sim.wipe: empty disk, re-formatted with a new directory id), and the network
heals.

Without directory ids (voters known by node id alone, as with a static
controller.quorum.voters before Kafka 3.9) the empty node is taken for the
voter it was: its empty log is "as up to date" as anybody's, so it grants its
vote to the lagging follower, which wins without the topic record. When the old
leader returns it truncates the record away: lost-metadata, expected under the
switch. With directory ids the wiped node is a new replica, an observer: the
lagging follower cannot win with it, the quorum waits for the old leader, and
the record survives; describe_quorum() shows the wiped node among the observers
on its new directory id.
"""
import ksim


def story(seed: int, directory_ids: bool):
    cfg = {} if directory_ids else {"ksim.raft.directory.id": "false"}
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3, config=cfg)
    sim.run_for(3_000)
    q = sim.describe_quorum()
    leader = q["leader_id"]
    lagging, wiped = [v["id"] for v in q["voters"] if v["id"] != leader]
    label = f"directory ids {'on ' if directory_ids else 'off'}"
    sim.partition([[lagging], [n for n in range(1, 7) if n != lagging]])
    sim.create_topic("orders", partitions=1, replication_factor=3)
    sim.run_for(500)
    print(f"{label}: leader {leader}, {lagging} cut off; 'orders' committed at metadata HW "
          f"{sim.describe_quorum()['high_watermark']}")
    sim.crash(leader)
    sim.wipe(wiped)
    sim.heal()
    sim.run_for(5_000)
    during = sim.describe_quorum()
    print(f"{label}: {leader} down, {wiped} wiped: leader {during['leader_id']} in epoch {during['leader_epoch']}")
    sim.restart(leader)
    sim.run_for(5_000)
    q = sim.describe_quorum()
    print(f"{label}: {leader} back: leader {q['leader_id']}, observers "
          f"{[(o['id'], o['directory_id']) for o in q['observers']]}")
    v = sim.check()
    lost = [a for a in v.anomalies if a.kind == "lost-metadata"]
    for a in lost:
        print(f"{label}: {a.explanation}")
    return during["leader_id"], lagging, wiped, q, lost, v


def scenario(seed: int) -> bool:
    off_leader, off_lagging, _, _, off_lost, _ = story(seed, directory_ids=False)
    on_leader, on_lagging, wiped, q, on_lost, v_on = story(seed, directory_ids=True)
    return (off_leader == off_lagging and len(off_lost) == 1 and off_lost[0].expected
            and on_leader != on_lagging and not on_lost and v_on.ok
            and wiped in [o["id"] for o in q["observers"]])


if __name__ == "__main__":
    ksim.main(scenario)
