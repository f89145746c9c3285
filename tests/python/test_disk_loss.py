"""Disk loss (issue 17): sim.wipe(node) / sim.replace_disk(node) restarts a node
on a new, empty disk with a new directory id. Brokers come back empty, leave
the ISR and catch up; with ELR a wiped broker is not elected as if it had
data. KRaft voters are (node id, directory id) pairs (KIP-853): a wiped
controller is an observer; with `ksim.raft.directory.id=false` it votes as
the voter it replaced and a committed metadata record disappears
(lost-metadata)."""
import pytest

import ksim
from ksim import ClusterError


def wiped_voter_story(directory_ids: bool, seed: int = 1):
    """Controllers 4, 5, 6. One follower lags behind a partition while a topic
    is created (committed by the leader and the other follower); then the
    leader crashes and the up-to-date follower's disk is wiped."""
    cfg = {} if directory_ids else {"ksim.raft.directory.id": "false"}
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3, config=cfg)
    sim.run_for(3_000)
    q = sim.describe_quorum()
    leader = q["leader_id"]
    lagging, wiped = [v["id"] for v in q["voters"] if v["id"] != leader]
    sim.partition([[lagging], [n for n in range(1, 7) if n != lagging]])
    sim.create_topic("orders", partitions=1, replication_factor=3)
    sim.run_for(500)
    committed_hw = sim.describe_quorum()["high_watermark"]
    sim.crash(leader)
    sim.wipe(wiped)
    sim.heal()
    sim.run_for(5_000)
    during = sim.describe_quorum()
    sim.restart(leader)
    sim.run_for(5_000)
    return sim, dict(leader=leader, lagging=lagging, wiped=wiped, committed_hw=committed_hw, during=during)


def test_without_directory_ids_a_wiped_voter_elects_a_lagging_one_and_committed_metadata_disappears():
    sim, s = wiped_voter_story(directory_ids=False)
    # The lagging voter won with the wiped voter's vote, the old leader down.
    assert s["during"]["leader_id"] == s["lagging"]
    v = sim.check()
    lost = [a for a in v.anomalies if a.kind == "lost-metadata"]
    assert len(lost) == 1
    a = lost[0]
    assert a.expected and "ksim.raft.directory.id=false" in a.cause
    assert a.offsets == [s["committed_hw"] - 1]
    assert "Topic(orders" in a.explanation and "a committed metadata record disappeared" in a.explanation


def test_with_directory_ids_the_wiped_voter_is_an_observer_and_nothing_committed_is_lost():
    sim, s = wiped_voter_story(directory_ids=True)
    # Two voters left who are that voter: no majority while the leader is down
    # (a follower may still name the crashed leader; nobody new won).
    assert s["during"]["leader_id"] in (-1, s["leader"])
    assert s["during"]["leader_epoch"] == 1
    q = sim.describe_quorum()
    assert q["leader_id"] in (s["leader"], s["lagging"])
    assert q["high_watermark"] > s["committed_hw"]
    voters = {v["id"]: v for v in q["voters"]}
    observers = {o["id"]: o for o in q["observers"]}
    # The voter set still names the old disk; the node is back as an observer
    # on its new one, caught up.
    assert sorted(voters) == [4, 5, 6] and voters[s["wiped"]]["log_end_offset"] == -1
    assert s["wiped"] in observers
    assert observers[s["wiped"]]["directory_id"] != voters[s["wiped"]]["directory_id"]
    assert observers[s["wiped"]]["log_end_offset"] == q["high_watermark"]
    assert sorted(observers) == [1, 2, 3, s["wiped"]]
    v = sim.check()
    assert not [a for a in v.anomalies if a.kind == "lost-metadata"]
    assert v.ok, str(v)


def test_describe_quorum_names_voters_by_id_and_directory_id():
    sim = ksim.Simulation(seed=3, brokers=3)  # combined mode: 1, 2, 3 vote
    sim.run_for(3_000)
    q = sim.describe_quorum()
    assert q["leader_id"] in (1, 2, 3) and q["leader_epoch"] >= 1 and q["high_watermark"] > 0
    assert [v["id"] for v in q["voters"]] == [1, 2, 3]
    assert len({v["directory_id"] for v in q["voters"]}) == 3
    assert all(len(v["directory_id"]) == 16 for v in q["voters"])
    assert all(v["log_end_offset"] == q["high_watermark"] for v in q["voters"])
    assert q["observers"] == []  # every broker is a voter here


def test_a_wiped_broker_comes_back_empty_leaves_the_isr_and_catches_up():
    sim = ksim.Simulation(seed=2, brokers=3, controllers=1, config={"replica.lag.time.max.ms": "2000"})
    sim.create_topic("t", assignment=[[1, 2, 3]])
    values = [f"v{i}" for i in range(20)]
    assert sim.produce("t", 0, values, acks="all")["error"] is None
    sim.run_for(1_000)
    assert [v for _, v in sim.log(3, "t", 0)] == [v.encode() for v in values]
    sim.wipe(3)
    assert sim.is_up(3)
    sim.run_for(1)
    assert sim.log(3, "t", 0) == []
    sim.run_until(lambda: 3 not in sim.describe_topic("t")[0].isr, timeout_ms=30_000)
    assert 3 not in sim.describe_topic("t")[0].isr
    sim.run_until(lambda: 3 in sim.describe_topic("t")[0].isr, timeout_ms=60_000)
    assert [v for _, v in sim.log(3, "t", 0)] == [v.encode() for v in values]
    v = sim.check()
    assert v.ok, str(v)


def elr_story(wipe: bool):
    """3 and then 2 stop cleanly (2 stays an Eligible Leader Replica), the
    last ISR member 1 crashes, and 2 comes back — with its disk, or wiped."""
    sim = ksim.Simulation(seed=1, brokers=3, controllers=1, config={
        "replica.lag.time.max.ms": "2000", "min.insync.replicas": "2"})
    sim.create_topic("t", assignment=[[1, 2, 3]])
    assert sim.produce("t", 0, ["committed-1"], acks="all")["error"] is None
    sim.shutdown(3)
    sim.run_until(lambda: 3 not in sim.describe_topic("t")[0].isr, timeout_ms=30_000)
    sim.shutdown(2)
    sim.run_until(lambda: sim.describe_topic("t")[0].isr == [1], timeout_ms=30_000)
    assert sim.describe_topic("t")[0].elr == [2]  # 3 left while the ISR still had min.insync.replicas
    sim.crash(1)
    (sim.wipe if wipe else sim.restart)(2)
    sim.run_for(20_000)
    return sim, sim.describe_topic("t")[0]


def test_with_elr_a_cleanly_stopped_broker_is_elected_from_its_disk():
    _, p = elr_story(wipe=False)
    assert p.leader == 2


def test_with_elr_a_wiped_broker_leaves_the_elr_and_is_not_elected():
    sim, p = elr_story(wipe=True)
    # Its clean-shutdown file went with the disk: it registers as after an
    # unclean stop, and the controller takes it out of the ELR.
    assert p.leader is None
    assert 2 not in p.elr
    assert sim.log(2, "t", 0) == []


def test_wipe_of_an_unknown_node_or_a_client_is_refused():
    sim = ksim.Simulation(seed=1, brokers=3)
    with pytest.raises(ClusterError, match=r"unknown node 9 \(nodes are 1..3"):
        sim.wipe(9)
    p = sim.producer({"acks": "all"})
    with pytest.raises(ClusterError, match=r"it is a client, which has no disk"):
        sim.replace_disk(p.id)


def rejoin_story(pre_vote: bool, seed: int):
    """A follower voter is cut off for 15 s (its election timer keeps firing),
    then the network heals."""
    cfg = {} if pre_vote else {"ksim.raft.pre.vote": "false"}
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3, config=cfg)
    sim.run_for(3_000)
    before = sim.describe_quorum()
    cut = [v["id"] for v in before["voters"] if v["id"] != before["leader_id"]][0]
    sim.partition([[cut], [n for n in range(1, 7) if n != cut]])
    sim.run_for(15_000)
    sim.heal()
    sim.run_for(5_000)
    return before, sim.describe_quorum(), sim.check()


@pytest.mark.parametrize("seed", [1, 2])
def test_without_pre_vote_a_rejoining_partitioned_voter_deposes_the_leader(seed):
    before, after, v = rejoin_story(pre_vote=False, seed=seed)
    # Its epoch ran ahead while it stood alone; its first Vote request after
    # the heal forces everybody into that epoch and a new election.
    assert after["leader_epoch"] > before["leader_epoch"] + 2
    assert after["leader_id"] != before["leader_id"]
    assert v.ok, str(v)


@pytest.mark.parametrize("seed", [1, 2])
def test_with_pre_vote_a_rejoining_partitioned_voter_follows_the_leader_it_left(seed):
    before, after, v = rejoin_story(pre_vote=True, seed=seed)
    # KIP-996: it stayed Prospective in its epoch (the pre-votes went nowhere),
    # and the voters that hear from the live leader refuse it after the heal.
    assert (after["leader_id"], after["leader_epoch"]) == (before["leader_id"], before["leader_epoch"])
    assert all(r["log_end_offset"] == after["high_watermark"] for r in after["voters"])
    assert v.ok, str(v)
