"""KIP-853 dynamic quorums (issue 17): AddVoter / RemoveVoter. A controller
whose disk was replaced comes back with a new directory id and is only an
observer; the operator removes the old voter key and adds the new one, and
the quorum tolerates a failure again. Changes go one at a time, through a
VotersRecord in the metadata log that takes effect on append and completes
on commit, refused with Kafka's errors."""
import pytest

import ksim
from ksim import ClusterError


def quorum(sim):
    q = sim.describe_quorum()
    return q, {v["id"]: v["directory_id"] for v in q["voters"]}, {o["id"]: o["directory_id"] for o in q["observers"]}


def new_cluster(seed=1, **cfg):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=3, config=cfg)
    sim.run_for(3_000)
    return sim


def test_a_wiped_voter_is_removed_then_added_back_with_its_new_disk_and_the_quorum_survives_a_crash_again():
    sim = new_cluster()
    q, voters, _ = quorum(sim)
    follower = max(v for v in voters if v != q["leader_id"])
    old_dir = voters[follower]
    sim.wipe(follower)
    sim.run_for(3_000)
    q, voters, observers = quorum(sim)
    assert voters[follower] == old_dir            # the set still names the old disk
    assert follower in observers and observers[follower] != old_dir   # the new disk fetches as an observer

    before = sorted(voters)
    sim.remove_voter(follower)                    # by the directory id the set names
    q, voters, _ = quorum(sim)
    assert sorted(voters) == [v for v in before if v != follower]
    sim.add_voter(follower)                       # with its new disk's directory id
    q, voters, observers = quorum(sim)
    assert voters[follower] == observers.get(follower, voters[follower]) != old_dir
    assert len(voters) == 3 and follower not in observers

    # Three voters again: the quorum commits with the leader down.
    sim.crash(q["leader_id"])
    sim.create_topic("after", partitions=1, replication_factor=3)
    sim.run_for(5_000)
    assert sim.describe_quorum()["leader_id"] not in (-1, q["leader_id"])
    assert sim.describe_topic("after")[0].leader > 0
    assert sim.check().ok


def test_one_change_at_a_time_and_kafkas_refusals():
    sim = new_cluster()
    q, voters, _ = quorum(sim)
    leader = q["leader_id"]
    others = sorted(v for v in voters if v != leader)
    with pytest.raises(ClusterError, match="DUPLICATE_VOTER"):
        sim.add_voter(others[0])
    with pytest.raises(ClusterError, match="VOTER_NOT_FOUND"):
        sim.remove_voter(others[0], directory_id="00000000000000ab")
    with pytest.raises(ClusterError, match="no directory id"):
        sim.remove_voter(others[0], directory_id="not-hex")
    with pytest.raises(ClusterError, match="not a controller"):
        sim.add_voter(1)
    # A wiped node is an observer, but one that has not caught up cannot be added.
    sim.wipe(others[0])
    sim.partition([[others[0]], [n for n in range(1, 7) if n != others[0]]])
    sim.remove_voter(others[0])
    sim.run_for(1_000)
    with pytest.raises(ClusterError, match="REQUEST_TIMED_OUT.*not an observer caught up"):
        sim.add_voter(others[0])
    sim.heal()
    sim.run_for(3_000)
    sim.add_voter(others[0])
    assert len(quorum(sim)[1]) == 3


def test_a_second_change_is_refused_while_the_first_is_uncommitted_and_a_deposed_leaders_record_is_undone():
    sim = new_cluster()
    q, voters, _ = quorum(sim)
    leader = q["leader_id"]
    a, b = sorted(v for v in voters if v != leader)
    # Cut the leader off from both followers: the removal is appended but cannot commit.
    sim.partition([[leader], [n for n in range(1, 7) if n != leader]])
    with pytest.raises(ClusterError, match="REQUEST_TIMED_OUT: the VotersRecord .* did not commit"):
        sim.remove_voter(a, timeout_ms=200)
    assert sim.describe_quorum()["leader_id"] == leader      # still leading: check-quorum has not fired yet
    with pytest.raises(ClusterError, match="REQUEST_TIMED_OUT: another voter change is still in progress"):
        sim.remove_voter(b, timeout_ms=200)
    sim.run_for(5_000)  # the two followers elect a leader of their own
    sim.heal()
    sim.run_for(5_000)
    # The followers elected a leader of a later epoch; the deposed leader's
    # uncommitted VotersRecord was truncated away, and the set is whole again.
    q2, now, _ = quorum(sim)
    assert q2["leader_epoch"] > q["leader_epoch"]
    assert sorted(now) == sorted(voters)


def test_removing_the_leader_makes_it_resign_once_the_record_commits():
    sim = new_cluster()
    q, voters, _ = quorum(sim)
    leader = q["leader_id"]
    sim.remove_voter(leader)
    sim.run_for(5_000)
    q2, voters2, observers2 = quorum(sim)
    assert leader not in voters2 and len(voters2) == 2
    assert q2["leader_id"] in voters2 and q2["leader_epoch"] > q["leader_epoch"]
    assert leader in observers2           # it still fetches the log, as an observer
    sim.create_topic("t", partitions=1, replication_factor=3)
    sim.run_for(2_000)
    assert sim.describe_topic("t")[0].leader > 0


def test_without_directory_ids_the_voter_set_is_static():
    sim = new_cluster(**{"ksim.raft.directory.id": "false"})
    q, voters, _ = quorum(sim)
    with pytest.raises(ClusterError, match="UNSUPPORTED_VERSION"):
        sim.remove_voter(max(voters))


def test_voter_changes_are_deterministic():
    def run():
        sim = new_cluster(seed=5)
        q, voters, _ = quorum(sim)
        f = max(v for v in voters if v != q["leader_id"])
        sim.wipe(f)
        sim.run_for(2_000)
        sim.remove_voter(f)
        sim.add_voter(f)
        sim.run_for(1_000)
        return sim.trace_hash()
    assert run() == run()
