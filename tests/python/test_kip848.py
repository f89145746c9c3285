"""group.protocol=consumer (KIP-848) from Python: describe_group shows the protocol, the group epoch, the
target assignment epoch and each member's epoch, state and partitions; bad configs fail naming the key; the
pending-revocation story shows split-ownership only with its history switch."""
import importlib.util
import pathlib

import pytest

import ksim

ROOT = pathlib.Path(__file__).parents[2]


def poll_members(sim, members, ms):
    """Runs `ms` of virtual time, every member polling (up to 50 records at a time) each 20 ms."""
    end = sim.now + ms
    while sim.now < end:
        for c in members:
            for _ in range(50):
                if c.poll(0) is None:
                    break
        sim.run_for(20)


def two_members(seed=5):
    sim = ksim.Simulation(seed=seed, brokers=3)
    sim.create_topic("t", partitions=6, replication_factor=3)
    cfg = {"group.id": "g", "group.protocol": "consumer", "auto.offset.reset": "earliest"}
    members = [sim.consumer(cfg), sim.consumer(cfg)]
    for c in members:
        c.subscribe(["t"])
    for _ in range(150):
        for c in members:
            c.poll(timeout_ms=10)
        sim.run_for(100)
    return sim, members


def test_describe_group_shows_the_epochs_and_each_members_partitions():
    sim, (a, b) = two_members()
    d = sim.describe_group("g")
    assert d.group_protocol == "consumer"
    assert d.state == "Stable"
    assert d.group_epoch == 2 and d.assignment_epoch == 2
    assert d.protocol == "uniform"
    assert sorted(m.member_epoch for m in d.members) == [2, 2]
    assert {m.member_state for m in d.members} == {"STABLE"}
    by_client = {m.client: m for m in d.members}
    for c in (a, b):
        m = by_client[c.id]
        assert sorted(m.assignment) == sorted((tp.topic, tp.partition) for tp in c.assignment())
        assert len(m.assignment) == 3 and m.target == m.assignment and m.pending_revocation == []
        assert m.subscription == ["t"]
    text = str(d)
    assert "group.protocol: consumer  group epoch: 2  assignment epoch: 2" in text
    assert text.count("MEMBER ") == 2 and "state: STABLE" in text


def test_a_classic_group_has_no_epochs():
    sim = ksim.Simulation(seed=5, brokers=1)
    sim.create_topic("t", partitions=2, replication_factor=1)
    c = sim.consumer({"group.id": "old", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    for _ in range(60):
        c.poll(timeout_ms=100)
    d = sim.describe_group("old")
    assert d.group_protocol == "classic" and d.group_epoch is None and d.assignment_epoch is None
    assert d.generation == 1 and d.members[0].member_epoch is None


@pytest.mark.parametrize("conf, key", [
    ({"group.protocol": "consumer", "session.timeout.ms": "10000"}, "session.timeout.ms"),
    ({"group.protocol": "consumer", "partition.assignment.strategy": "range"}, "partition.assignment.strategy"),
    ({"group.remote.assignor": "uniform"}, "group.remote.assignor"),
    ({"group.protocol": "consumer", "group.remote.assignor": "sticky"}, "group.remote.assignor"),
    ({"group.protocol": "kip848"}, "group.protocol"),
])
def test_a_bad_consumer_protocol_config_names_the_key(conf, key):
    sim = ksim.Simulation(seed=1, brokers=1)
    with pytest.raises(Exception) as e:
        sim.consumer({"group.id": "g", **conf})
    assert key in str(e.value)


def test_the_pending_revocation_story_shows_split_ownership_only_with_the_switch(capsys):
    path = ROOT / "scenarios" / "history_kip848_pending_revocation.py"
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.story(4, "fixed") is True
    assert mod.story(4, "ignore") is True
    out = capsys.readouterr().out
    assert "pending.revocation=fixed : A [0, 1] B [2, 3], split-ownership: 0" in out
    assert "pending.revocation=ignore: A [0, 1] B [2, 3], split-ownership: 2" in out
    assert "at member epochs" in out


def test_members_polling_with_poll_0_revoke_and_the_newcomer_gets_its_partitions():
    """poll(0) never advances time: a commit-before-revoke must be sent once and awaited across polls (it was
    sent anew by every poll and never answered in time: members stuck in UNREVOKED_PARTITIONS, the newcomer in
    UNRELEASED_PARTITIONS)."""
    sim = ksim.Simulation(seed=1, brokers=3, controllers=1)
    sim.create_topic("clicks", partitions=8, replication_factor=3)
    sim.workload("clicks", producers=1, rate_per_s=100, duration_ms=30_000)
    members = []

    def run(ms):
        poll_members(sim, members, ms)

    for _ in range(4):
        c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest", "group.protocol": "consumer"})
        c.subscribe(["clicks"])
        members.append(c)
        run(6_000)
    d = sim.describe_group("g")
    assert d.state == "Stable" and d.group_epoch == d.assignment_epoch == 4
    assert [m.member_state for m in d.members] == ["STABLE"] * 4
    assert sorted(len(m.assignment) for m in d.members) == [2, 2, 2, 2]
    v = sim.check()
    assert v.ok, str(v)


def test_consumer_groups_describe_shows_the_member_epochs_of_a_consumer_protocol_group(tmp_path):
    import subprocess
    from cli_binary import ksim_bin  # this folder

    story = ROOT / "scenarios" / "history_kip848_pending_revocation.py"
    r = subprocess.run([ksim_bin(), "run", str(story), "--seed", "1", "--out", str(tmp_path)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = subprocess.run([ksim_bin(), "consumer-groups", str(tmp_path / f"{story.stem}-1.db"), "--describe"],
                         capture_output=True, text=True, timeout=600).stdout
    assert "Consumer group 'g' uses group.protocol=consumer (KIP-848):" in out
    assert "classic-readers" in out and "Consumer group 'classic-readers' uses" not in out
    section = out.split("Consumer group 'g' uses group.protocol=consumer (KIP-848):\n")[1].splitlines()
    assert section[0].split() == ["MEMBER-ID", "MEMBER-EPOCH", "CLIENT-ID", "#PARTITIONS"]
    members = [line.split() for line in section[1:3]]
    assert [m[1] for m in members] == ["2", "2"] and sorted(m[3] for m in members) == ["2", "2"]


def poll_all(sim, consumers, ms, got=None):
    end = sim.now + ms
    while sim.now < end:
        for c in consumers:
            m = c.poll(timeout_ms=10)
            while m is not None:
                if got is not None and m.error() is None:
                    got.setdefault(m.topic(), []).append(m.value())
                m = c.poll(0)
        sim.run_for(100)


def test_a_regex_subscription_is_resolved_by_the_coordinator_and_picks_up_a_topic_created_later():
    """group.protocol=consumer: subscribe(['^orders-.*']) sends the regex (SubscribedTopicRegex); the coordinator
    resolves it (never to internal topics), describe_group shows it, and a matching topic created later is
    assigned after the coordinator's next refresh (Kafka 4.0: at most every 10 s)."""
    sim = ksim.Simulation(seed=11, brokers=3)
    for t in ("orders-eu", "orders-us", "audit"):
        sim.create_topic(t, partitions=2, replication_factor=3)
    cfg = {"group.id": "g", "group.protocol": "consumer", "auto.offset.reset": "earliest"}
    a, b = sim.consumer(cfg), sim.consumer(cfg)
    for c in (a, b):
        c.subscribe(["^orders-.*"])
    poll_all(sim, [a, b], 8_000)
    d = sim.describe_group("g")
    assert d.state == "Stable"
    for m in d.members:
        assert m.subscribed_topic_regex == "^orders-.*"
        assert m.subscription == ["orders-eu", "orders-us"]
    owned = sorted(tp for m in d.members for tp in m.assignment)
    assert owned == [("orders-eu", 0), ("orders-eu", 1), ("orders-us", 0), ("orders-us", 1)]
    assert str(d).count("regex: ^orders-.*") == 2

    sim.create_topic("orders-asia", partitions=2, replication_factor=3)
    p = sim.producer({"acks": "all"})
    for i in range(10):
        p.produce("orders-asia", value=f"a{i}")
        p.produce("audit", value=f"x{i}")
    p.flush()
    got = {}
    poll_all(sim, [a, b], 20_000, got)
    d = sim.describe_group("g")
    assert d.state == "Stable" and d.group_epoch == 3
    owned = sorted(tp for m in d.members for tp in m.assignment)
    assert ("orders-asia", 0) in owned and ("orders-asia", 1) in owned and len(owned) == 6
    assert sorted(got["orders-asia"]) == sorted(f"a{i}".encode() for i in range(10))
    assert "audit" not in got
    v = sim.check()
    assert v.ok, str(v)


def test_a_classic_member_matches_its_regex_itself():
    sim = ksim.Simulation(seed=11, brokers=1)
    sim.create_topic("orders-eu", partitions=2, replication_factor=1)
    c = sim.consumer({"group.id": "old", "auto.offset.reset": "earliest"})
    c.subscribe(["^orders-.*"])
    poll_all(sim, [c], 6_000)
    m = sim.describe_group("old").members[0]
    assert m.subscribed_topic_regex is None and m.subscription == ["orders-eu"]
    with pytest.raises(ksim.ArgumentError, match="invalid topic regex"):
        sim.consumer({"group.id": "old2"}).subscribe(["^orders-["])


def test_a_regex_the_coordinator_cannot_compile_is_invalid_regular_expression_at_poll():
    sim = ksim.Simulation(seed=11, brokers=1)
    sim.create_topic("orders-eu", partitions=2, replication_factor=1)
    c = sim.consumer({"group.id": "g", "group.protocol": "consumer"})
    c.subscribe(["^orders-["])  # not checked here: the coordinator compiles it
    with pytest.raises(ksim.KafkaException) as e:
        poll_all(sim, [c], 5_000)
    assert e.value.args[0].name() == "INVALID_REGULAR_EXPRESSION"
    assert "orders-[" in str(e.value)
    assert sim.describe_group("g").members == []


def committed(sim, group):
    return dict(sim.describe_group(group).offsets)


@pytest.mark.parametrize("strategy", ["range", "cooperative-sticky"])
def test_a_rolling_upgrade_of_a_classic_group_to_the_consumer_protocol_and_back(tmp_path, strategy):
    """Three classic consumers are replaced, one at a time, by group.protocol=consumer ones: the first one turns
    the live classic group into a consumer group (KIP-848's online upgrade) whose classic members keep speaking
    JoinGroup / SyncGroup / Heartbeat; then back (the last consumer-protocol member leaving turns it classic).
    Throughout, every partition has one owner at a time (split-ownership stays quiet), no committed offset goes
    back, and every acknowledged record is read."""
    sim = ksim.Simulation(seed=21, brokers=3)
    sim.create_topic("orders", partitions=6, replication_factor=3)
    sim.workload("orders", producers=1, rate_per_s=200, duration_ms=150_000)
    base = {"group.id": "g", "auto.offset.reset": "earliest", "auto.commit.interval.ms": "1000"}
    # Eager (range: a rejoining member owns nothing) or cooperative (it lists what it keeps).
    classic = {**base, "partition.assignment.strategy": strategy}
    kip848 = {**base, "group.protocol": "consumer"}
    members = []
    seen_offsets = {}

    def run(ms):
        poll_members(sim, members, ms)
        now = committed(sim, "g")
        for tp, off in now.items():
            assert off >= seen_offsets.get(tp, 0), f"committed offset of {tp} went back"
        seen_offsets.update(now)

    def replace(i, conf):
        members[i].close()
        c = sim.consumer(conf)
        c.subscribe(["orders"])
        members[i] = c
        run(12_000)

    for _ in range(3):
        c = sim.consumer(classic)
        c.subscribe(["orders"])
        members.append(c)
    run(12_000)
    d = sim.describe_group("g")
    assert d.group_protocol == "classic" and d.state == "Stable" and len(d.members) == 3

    replace(0, kip848)
    d = sim.describe_group("g")
    assert d.group_protocol == "consumer"  # upgraded while two classic members were in it
    assert sorted(m.classic_protocol for m in d.members) == [False, True, True]
    assert d.state == "Stable" and sorted(len(m.assignment) for m in d.members) == [2, 2, 2]
    replace(1, kip848)
    replace(2, kip848)
    d = sim.describe_group("g")
    assert d.group_protocol == "consumer" and [m.classic_protocol for m in d.members] == [False] * 3
    assert d.state == "Stable" and sorted(len(m.assignment) for m in d.members) == [2, 2, 2]

    # And back: classic members join the consumer group; the last consumer-protocol member leaving downgrades it.
    replace(0, classic)
    replace(1, classic)
    assert sim.describe_group("g").group_protocol == "consumer"
    replace(2, classic)
    d = sim.describe_group("g")
    assert d.group_protocol == "classic" and d.state == "Stable" and len(d.members) == 3
    assert sorted(len(m.assignment) for m in d.members) == [2, 2, 2]
    run(60_000)
    v = sim.check()
    assert v.ok, str(v)
    assert not [a for a in v.anomalies if a.kind == "split-ownership"]
    # The run's story tells both conversions; neither is a re-creation of the group.
    from ksim.run_db import RunDb
    from ksim.story import story
    sim.export(str(tmp_path / "roll.db"))
    told = [e.text for e in story(RunDb(str(tmp_path / "roll.db"))) if e.kind == "group"]
    assert [t for t in told if "converted" in t] == [
        "group g converted to a consumer group (broker 1)", "group g converted to a classic group (broker 1)"]
    assert len([t for t in told if "created" in t]) == 1
