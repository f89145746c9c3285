"""A controller's drive fails and is replaced: KIP-853's AddVoter/RemoveVoter bring the quorum back to three voters.

Three dedicated controllers (4, 5, 6) and three brokers; a producer writes all
along. A follower controller's drive is replaced (sim.wipe: an empty disk,
re-formatted with a new directory id). It restarts as an OBSERVER: the voter
set still names its old directory, and its empty log cannot vouch for what
the old replica acknowledged. The quorum now has two live voters of three:
one more failure and the metadata log stops.

The operator does what `kafka-metadata-quorum remove-controller` and
`add-controller` do: remove the voter (id, old directory id), then add
(id, new directory id) once the node has caught up as an observer. Each
change is a VotersRecord in the metadata log; one at a time; it takes effect
on append and completes on commit. Then the quorum leader crashes, and the two
remaining voters (one of them the re-added node) elect a new leader and keep
committing: a topic is created while the old leader is down. check() finds
nothing lost.
"""
import ksim


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3, config={"min.insync.replicas": "2"})
    sim.create_topic("orders", partitions=3, replication_factor=3)
    sim.workload("orders", producers=1, consumers=1, rate_per_s=200,
                 producer_config={"acks": "all", "enable.idempotence": "true"},
                 consumer_config={"group.id": "g", "auto.offset.reset": "earliest"})
    sim.run_for(3_000)

    def voters():
        q = sim.describe_quorum()
        return q, {v["id"]: v["directory_id"] for v in q["voters"]}, {o["id"]: o["directory_id"] for o in q["observers"]}

    q, vs, _ = voters()
    replaced = max(v for v in vs if v != q["leader_id"])
    print(f"voters {vs}, leader {q['leader_id']}; replacing the drive of controller {replaced}")
    sim.wipe(replaced)
    sim.run_for(3_000)
    q, vs, obs = voters()
    print(f"after the wipe: voters {vs}; controller {replaced} observes on directory {obs.get(replaced)}")
    came_back_as_observer = replaced in obs and obs[replaced] != vs[replaced]

    at = sim.remove_voter(replaced)
    print(f"remove_voter({replaced}, {vs[replaced]}): VotersRecord at offset {at} committed")
    at = sim.add_voter(replaced)
    q, vs, obs = voters()
    print(f"add_voter({replaced}): VotersRecord at offset {at} committed; voters {vs}")
    readded = replaced in vs and replaced not in obs and vs[replaced] != ""

    old_leader = q["leader_id"]
    sim.crash(old_leader)
    sim.create_topic("audit", partitions=1, replication_factor=3)
    sim.run_for(5_000)
    q2, _, _ = voters()
    print(f"leader {old_leader} crashed: new leader {q2['leader_id']} in epoch {q2['leader_epoch']}; "
          f"'audit' leader {sim.describe_topic('audit')[0].leader}")
    survived = q2["leader_id"] not in (-1, old_leader) and sim.describe_topic("audit")[0].leader > 0
    sim.restart(old_leader)
    v = sim.check()
    print(f"check: {'ok' if v.ok else 'VIOLATED'}")
    return came_back_as_observer and readded and survived and v.ok
