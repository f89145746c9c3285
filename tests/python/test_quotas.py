"""Client quotas from Python: Admin's alterClientQuotas / describeClientQuotas,
the throttling a producer and a consumer see (KIP-219), the metrics that show
it, and every bad input naming its problem (engine/broker/README.md, "Client
quotas")."""
import math

import pytest

import ksim
from ksim import ArgumentError, ArgumentTypeError, ClusterError

RECORD = b"r" * 1_000


@pytest.fixture(scope="module")
def sim():
    s = ksim.Simulation(seed=11, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    return s


def test_quotas_are_set_described_and_removed_like_kafka_configs(sim):
    sim.alter_client_quotas(entity={"client-id": "app"}, quotas={"producer_byte_rate": 1_048_576,
                                                                 "consumer_byte_rate": 2_097_152})
    sim.alter_client_quotas(entity={"client-id": None}, quotas={"producer_byte_rate": 100_000})
    sim.alter_client_quotas(entity={"user": "ANONYMOUS", "client-id": "app"}, quotas={"consumer_byte_rate": 5_000})
    described = sim.describe_client_quotas()
    expected = [
        ({"client-id": "app"}, {"producer_byte_rate": 1_048_576.0, "consumer_byte_rate": 2_097_152.0}),
        ({"client-id": None}, {"producer_byte_rate": 100_000.0}),
        ({"user": "ANONYMOUS", "client-id": "app"}, {"consumer_byte_rate": 5_000.0}),
    ]
    assert len(described) == len(expected) and all(e in described for e in expected)
    # None removes a key; an entity without keys is gone.
    sim.alter_client_quotas(entity={"client-id": "app"}, quotas={"consumer_byte_rate": None})
    sim.alter_client_quotas(entity={"client-id": None}, quotas={"producer_byte_rate": None})
    sim.alter_client_quotas(entity={"user": "ANONYMOUS", "client-id": "app"}, quotas={"consumer_byte_rate": None})
    assert sim.describe_client_quotas() == [({"client-id": "app"}, {"producer_byte_rate": 1_048_576.0})]
    sim.alter_client_quotas(entity={"client-id": "app"}, quotas={"producer_byte_rate": None})
    assert sim.describe_client_quotas() == []


BAD = [
    ("unknown quota key", {"client-id": "a"}, {"producer_byte_rates": 1}, ClusterError,
     r"Invalid configuration key producer_byte_rates"),
    ("negative rate", {"client-id": "a"}, {"producer_byte_rate": -5}, ClusterError,
     r"Invalid value -5 for configuration producer_byte_rate: a byte rate must be positive"),
    ("zero rate", {"client-id": "a"}, {"consumer_byte_rate": 0}, ClusterError, r"consumer_byte_rate.*must be positive"),
    ("fractional rate", {"client-id": "a"}, {"producer_byte_rate": 1.5}, ClusterError,
     r"producer_byte_rate must be a Long value"),
    ("infinite rate", {"client-id": "a"}, {"producer_byte_rate": math.inf}, ClusterError, r"must be a Long value"),
    ("unknown entity type", {"group": "g"}, {"producer_byte_rate": 1}, ClusterError,
     r"Unhandled client quota entity type: group"),
    ("empty entity", {}, {"producer_byte_rate": 1}, ClusterError, r"Invalid empty client quota entity"),
    ("ip entity", {"ip": "10.0.0.1"}, {"producer_byte_rate": 1}, ClusterError, r"IP quotas \(KIP-612\) are not modelled"),
    ("request_percentage", {"client-id": "a"}, {"request_percentage": 50}, ClusterError,
     r"request_percentage is not modelled by ksim"),
    ("no quotas", {"client-id": "a"}, {}, ArgumentError, r"no quotas given"),
    ("entity not a dict", "client-id=a", {"producer_byte_rate": 1}, ArgumentTypeError, r"entity is a dict.*not str"),
    ("quotas not a dict", {"client-id": "a"}, [("producer_byte_rate", 1)], ArgumentTypeError,
     r"quotas is a dict.*not list"),
    ("rate a string", {"client-id": "a"}, {"producer_byte_rate": "1000"}, ArgumentTypeError,
     r"value of producer_byte_rate is a number of bytes per second"),
    ("rate a bool", {"client-id": "a"}, {"producer_byte_rate": True}, ArgumentTypeError, r"producer_byte_rate"),
    ("entity name a number", {"client-id": 7}, {"producer_byte_rate": 1}, ArgumentTypeError,
     r"entity name of client-id is a string"),
]


@pytest.mark.parametrize("entity,quotas,exc,pattern", [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_quota_input_fails_naming_the_problem(sim, entity, quotas, exc, pattern):
    with pytest.raises(exc, match=pattern) as e:
        sim.alter_client_quotas(entity=entity, quotas=quotas)
    if exc is ClusterError:
        assert e.value.error == "INVALID_REQUEST"
    assert sim.describe_client_quotas() == []  # all or nothing: nothing was written


def test_quotas_are_off_until_configured_no_throttle_metrics_no_throttling():
    s = ksim.Simulation(seed=3, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    p = s.producer({"client.id": "plain"})
    for _ in range(2_000):
        p.produce("t", value=RECORD)
    assert p.flush(timeout_ms=30_000) == 0
    assert p.metrics() == {"produce-throttle-time-avg": 0.0, "produce-throttle-time-max": 0.0}
    assert not [k for k in s.metrics() if k.startswith(("byte-rate{", "throttle-time{"))]


def test_a_consumer_over_its_consumer_byte_rate_is_throttled_but_reads_everything():
    s = ksim.Simulation(seed=5, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    p = s.producer({"client.id": "writer"})
    for i in range(600):
        p.produce("t", value=RECORD, partition=0)
    assert p.flush(timeout_ms=30_000) == 0
    s.alter_client_quotas(entity={"client-id": "slow-reader"}, quotas={"consumer_byte_rate": 20_000})

    def read_all(name):
        c = s.consumer({"client.id": name, "group.id": name, "auto.offset.reset": "earliest"})
        c.assign([ksim.TopicPartition("t", 0, offset=0)])
        start, got = s.now, 0
        while got < 600 and s.now - start < 120_000:
            if c.poll(timeout_ms=100) is not None:
                got += 1
        return c, got, s.now - start

    fast, fast_got, fast_ms = read_all("fast-reader")
    slow, slow_got, slow_ms = read_all("slow-reader")
    assert fast_got == slow_got == 600
    assert fast_ms < 1_000
    assert fast.metrics()["fetch-throttle-time-max"] == 0
    # ~600 KB under 20 KB/s: a fetch carries at most 200 KB (10 windows' worth
    # under the quota); the next one passes only once the rate over the 11
    # windows admits it, so the reader gets at most its quota on average.
    rate = 600 * len(RECORD) / (slow_ms / 1000)
    assert 0.6 * 20_000 <= rate <= 20_000
    assert slow.metrics()["fetch-throttle-time-max"] > 0
    leader = s.describe_topic("t")[0].leader
    m = s.metrics()
    assert m[f"throttle-time{{broker={leader},type=Fetch,user=,client-id=slow-reader}}"] > 0
    assert m[f"throttle-time{{broker={leader},type=Fetch,user=,client-id=fast-reader}}"] == 0


def test_a_default_client_id_quota_throttles_each_client_on_its_own_rate():
    s = ksim.Simulation(seed=7, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    s.alter_client_quotas(entity={"client-id": None}, quotas={"producer_byte_rate": 30_000})
    s.alter_client_quotas(entity={"client-id": "vip"}, quotas={"producer_byte_rate": 10_000_000})
    a, b, vip = (s.producer({"client.id": n}) for n in ("a", "b", "vip"))
    for _ in range(1_000):
        for p in (a, b, vip):
            p.produce("t", value=RECORD)
    start = s.now
    assert vip.flush(timeout_ms=60_000) == 0
    vip_ms = s.now - start
    assert a.flush(timeout_ms=120_000) == 0 and b.flush(timeout_ms=120_000) == 0
    assert vip.metrics()["produce-throttle-time-max"] == 0
    assert vip_ms < 2_000
    for p in (a, b):
        assert p.metrics()["produce-throttle-time-max"] > 0
    leader = s.describe_topic("t")[0].leader
    tags = "{broker=%d,type=Produce,user=,client-id=%s}"
    m = s.metrics()
    # One sensor per client-id under the default quota: each measured alone.
    assert m["throttle-time" + tags % (leader, "a")] > 0 and m["throttle-time" + tags % (leader, "b")] > 0
    assert m["throttle-time" + tags % (leader, "vip")] == 0


def test_quotas_replay_from_the_metadata_log_after_every_broker_restarted():
    s = ksim.Simulation(seed=9, brokers=3, controllers=1)
    s.create_topic("t", partitions=1, replication_factor=3)
    s.alter_client_quotas(entity={"client-id": "noisy"}, quotas={"producer_byte_rate": 20_000})
    # Every broker crashes and comes back: its quotas are only what it replays from the metadata log.
    assert s.rolling_restart(controlled=False)
    p = s.producer({"client.id": "noisy"})
    for _ in range(500):
        p.produce("t", value=RECORD)
    start = s.now
    assert p.flush(timeout_ms=120_000) == 0
    assert p.metrics()["produce-throttle-time-max"] > 0
    # ~510 KB at 20 KB/s, the first 200 KB spread over the first ten windows.
    assert s.now - start >= 15_000
    leader = s.describe_topic("t")[0].leader
    assert s.metrics()[f"throttle-time{{broker={leader},type=Produce,user=,client-id=noisy}}"] > 0


def test_a_throttled_run_replays_byte_for_byte_however_often_its_metrics_are_read():
    def run(observe):
        s = ksim.Simulation(seed=21, brokers=3)
        s.create_topic("t", partitions=2, replication_factor=3)
        s.alter_client_quotas(entity={"client-id": None}, quotas={"producer_byte_rate": 40_000,
                                                                  "consumer_byte_rate": 40_000})
        p = s.producer({"client.id": "w"})
        for _ in range(800):
            p.produce("t", value=RECORD)
        assert p.flush(timeout_ms=120_000) == 0
        c = s.consumer({"client.id": "r", "group.id": "g", "auto.offset.reset": "earliest"})
        c.subscribe(["t"])
        got = 0
        while got < 800 and s.now < 300_000:
            if c.poll(timeout_ms=100) is not None:
                got += 1
            if observe:  # measuring purges sensors in Kafka; ksim's readers measure copies
                s.metrics(), p.metrics(), c.metrics()
        assert got == 800
        assert p.metrics()["produce-throttle-time-max"] > 0 and c.metrics()["fetch-throttle-time-max"] > 0
        return s.trace_hash(), s.now, p.metrics(), c.metrics()

    assert run(False) == run(False) == run(True)
