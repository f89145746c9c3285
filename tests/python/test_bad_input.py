"""The bad-input catalogue: every public entry point of ksim, fed garbage, fails cleanly.

Each row names a call, the EXACT exception class it must raise and a pattern
its message must contain (the key, the broker id, the bad value...). The
classes, as the README promises:

  ConfigError        a configuration key or value; `.key` names the key
  ClusterError       Kafka's answer (`.error` is its error name), also the
                     engine's refusals of a cluster operation (INVALID_REQUEST:
                     unknown node, node already down, negative duration)
  KafkaException     a client call failed as Kafka's Java client fails (`.kind`)
  ArgumentError      a bad argument value ksim checks (also a ValueError)
  ArgumentTypeError  a bad argument type ksim checks (also a TypeError)
  KsimError          misuse of the simulation itself (a crashed or closed
                     client, an unknown network rule or nemesis kind)
  TypeError          (plain, from pybind11) an argument that cannot be converted
                     at all, e.g. run_for("10"): accepted on purpose — Python
                     raises TypeError for that everywhere, and pybind11's message
                     prints the accepted signature.

Rows marked "regression" were bugs found by this catalogue (a silent accept,
a poisoned simulation, a wrong exception class); the fix is named there.
A bad call must also leave the simulation usable: the shared simulation the
catalogue runs against is checked for health at the end.

The CLI half runs the `ksim` binary: bad arguments, missing and corrupt files
exit non-zero with a message naming the problem, never a traceback.
"""
import re
import subprocess

import pytest
from cli_binary import ksim_bin  # this folder

import ksim
from ksim import (ArgumentError, ArgumentTypeError, ClusterError, ConfigError, KafkaException, KsimError,
                  TopicPartition)



def cases(table):
    """A table of (id, *arguments) rows as pytest parameters named by their ids."""
    return [pytest.param(*row[1:], id=row[0]) for row in table]


def expect(call, exc, pattern, **attrs):
    """Run `call`; it must raise exactly `exc` whose message matches `pattern` and whose attributes equal `attrs`."""
    with pytest.raises(BaseException) as info:
        call()
    e = info.value
    assert type(e) is exc, f"expected {exc.__name__}, got {type(e).__module__}.{type(e).__name__}: {e}"
    assert re.search(pattern, str(e)), f"message {str(e)!r} does not match {pattern!r}"
    for name, value in attrs.items():
        assert getattr(e, name) == value, f"{name}={getattr(e, name)!r}, expected {value!r}"
    return e


@pytest.fixture(scope="module")
def sim():
    """One small cluster every stateless row runs against (creating one per row would dominate the runtime)."""
    s = ksim.Simulation(seed=11, brokers=3)
    s.create_topic("t", partitions=2, replication_factor=3)
    return s


# ---- the Simulation constructor ------------------------------------------------------------

CONSTRUCTOR = [
    ("zero brokers", dict(brokers=0), ClusterError, r"brokers must be between 1 and 1000, got 0", {"error": "INVALID_REQUEST"}),
    ("negative brokers", dict(brokers=-1), ClusterError, r"got -1", {}),
    ("too many controllers", dict(controllers=10), ClusterError, r"controllers must be between 0 .* got 10", {}),
    ("negative controllers", dict(controllers=-1), ClusterError, r"got -1", {}),
    ("misspelled key", dict(config={"min.insync.replica": "2"}), ConfigError, r"Unknown configuration 'min.insync.replica'",
     {"key": "min.insync.replica"}),
    ("not a number", dict(config={"min.insync.replicas": "two"}), ConfigError, r"Invalid value two .*min.insync.replicas",
     {"key": "min.insync.replicas"}),
    ("out of range", dict(config={"min.insync.replicas": "-1"}), ConfigError, r"at least 1", {"key": "min.insync.replicas"}),
    ("unknown ksim switch", dict(config={"ksim.nonsense": "1"}), ConfigError, r"ksim.nonsense", {"key": "ksim.nonsense"}),
    ("bad ksim switch value", dict(config={"ksim.truncation.mode": "bogus"}), ConfigError,
     r"bogus .*leader-epoch, high-watermark", {"key": "ksim.truncation.mode"}),
    # regression: a dict value of another type was pybind11's "incompatible constructor arguments"
    ("list value", dict(config={"retention.ms": [1]}), ConfigError, r"type list for configuration retention.ms",
     {"key": "retention.ms"}),
    ("non-str key", dict(config={1: "2"}), ArgumentTypeError, r"keys are strings, not int", {}),
    ("config not a dict", dict(config=[("a", "b")]), ArgumentTypeError, r"config is a dict", {}),
    ("brokers as str", dict(brokers="3"), TypeError, r"incompatible constructor arguments", {}),
    ("negative seed", dict(seed=-1), TypeError, r"seed: int", {}),
]


@pytest.mark.parametrize("kwargs, exc, pattern, attrs", cases(CONSTRUCTOR))
def test_constructor(kwargs, exc, pattern, attrs):
    expect(lambda: ksim.Simulation(**kwargs), exc, pattern, **attrs)


def test_constructor_takes_numbers_and_bools_like_client_conf():
    # regression: {"min.insync.replicas": 2} was a TypeError while sim.producer({"linger.ms": 5}) worked
    s = ksim.Simulation(brokers=1, config={"min.insync.replicas": 1, "unclean.leader.election.enable": False,
                                           "log.segment.bytes": 1 << 20})
    assert s.ready()


# ---- the cluster: topics, admin and describe calls -------------------------------------------

ADMIN = [
    ("zero partitions", lambda s: s.create_topic("a", partitions=0, replication_factor=1), ClusterError,
     r"Number of partitions must be larger than 0", {"error": "INVALID_PARTITIONS"}),
    ("negative partitions", lambda s: s.create_topic("a", partitions=-5, replication_factor=1), ClusterError,
     r"partitions", {"error": "INVALID_PARTITIONS"}),
    ("RF > brokers", lambda s: s.create_topic("a", partitions=1, replication_factor=4), ClusterError,
     r"Replication factor: 4 larger than available brokers: 3", {"error": "INVALID_REPLICATION_FACTOR"}),
    ("RF zero", lambda s: s.create_topic("a", partitions=1, replication_factor=0), ClusterError,
     r"Replication factor must be larger than 0", {"error": "INVALID_REPLICATION_FACTOR"}),
    ("topic exists", lambda s: s.create_topic("t", partitions=1, replication_factor=1), ClusterError,
     r"Topic 't' already exists", {"error": "TOPIC_ALREADY_EXISTS"}),
    ("empty topic name", lambda s: s.create_topic("", partitions=1, replication_factor=1), ClusterError,
     r'Topic name "" is illegal', {"error": "INVALID_TOPIC_EXCEPTION"}),
    ("illegal topic name", lambda s: s.create_topic("a/b", partitions=1, replication_factor=1), ClusterError,
     r'"a/b" is illegal', {"error": "INVALID_TOPIC_EXCEPTION"}),
    ("topic name '..'", lambda s: s.create_topic("..", partitions=1, replication_factor=1), ClusterError,
     r'"\.\." is illegal', {"error": "INVALID_TOPIC_EXCEPTION"}),
    ("topic name too long", lambda s: s.create_topic("x" * 250, partitions=1, replication_factor=1), ClusterError,
     r"1-249 characters", {"error": "INVALID_TOPIC_EXCEPTION"}),
    ("misspelled topic config", lambda s: s.create_topic("a", 1, 1, config={"retention.mss": "1"}), ClusterError,
     r"Unknown configuration 'retention.mss' for a topic", {"error": "INVALID_CONFIG"}),
    ("bad topic config value", lambda s: s.create_topic("a", 1, 1, config={"retention.ms": "x"}), ClusterError,
     r"Invalid value x for configuration retention.ms", {"error": "INVALID_CONFIG"}),
    ("assignment names broker 9", lambda s: s.create_topic("a", assignment=[[1, 9]]), ClusterError,
     r"unknown broker 9", {"error": "INVALID_REPLICA_ASSIGNMENT"}),
    ("assignment repeats a broker", lambda s: s.create_topic("a", assignment=[[1, 1]]), ClusterError,
     r"distinct brokers", {"error": "INVALID_REPLICA_ASSIGNMENT"}),
    ("describe_topic unknown", lambda s: s.describe_topic("nope"), ClusterError, r"unknown topic 'nope'",
     {"error": "UNKNOWN_TOPIC_OR_PARTITION"}),
    ("describe unknown", lambda s: s.describe("nope"), ClusterError, r"unknown topic 'nope'", {}),
    ("wait_for_leader unknown topic", lambda s: s.wait_for_leader("nope"), ClusterError, r"unknown topic 'nope'", {}),
    ("wait_for_leader partition 7", lambda s: s.wait_for_leader("t", 7), ClusterError, r"no partition 7 \(it has 2\)",
     {"error": "UNKNOWN_TOPIC_OR_PARTITION"}),
    ("shrink partitions", lambda s: s.create_partitions("t", 1), ClusterError, r"has 2 partitions.*requested 1",
     {"error": "INVALID_PARTITIONS"}),
    ("create_partitions unknown", lambda s: s.create_partitions("nope", 5), ClusterError, r"'nope' does not exist",
     {"error": "UNKNOWN_TOPIC_OR_PARTITION"}),
    ("alter misspelled key", lambda s: s.alter_topic_config("t", "retention.mss", "1"), ClusterError, r"retention.mss",
     {"error": "INVALID_CONFIG"}),
    ("alter bad value", lambda s: s.alter_topic_config("t", "retention.ms", "abc"), ClusterError, r"Invalid value abc",
     {"error": "INVALID_CONFIG"}),
    ("alter unknown topic", lambda s: s.alter_topic_config("nope", "retention.ms", "1"), ClusterError, r"nope",
     {"error": "UNKNOWN_TOPIC_OR_PARTITION"}),
    ("elect_leaders unknown topic", lambda s: s.elect_leaders(partitions=[("nope", 0)]), ClusterError,
     r"Unknown partition nope-0", {"error": "UNKNOWN_TOPIC_OR_PARTITION"}),
    ("elect_leaders partition 9", lambda s: s.elect_leaders(partitions=[("t", 9)]), ClusterError, r"t-9", {}),
    ("raw produce unknown topic", lambda s: s.produce("nope", 0, ["a"]), ClusterError, r"unknown topic-partition nope-0",
     {"error": "UNKNOWN_TOPIC_OR_PARTITION"}),
    ("raw produce partition 9", lambda s: s.produce("t", 9, ["a"]), ClusterError, r"t-9", {}),
    ("raw produce acks=2", lambda s: s.produce("t", 0, ["a"], acks="2"), ConfigError, r"Invalid value 2 .*acks",
     {"key": "acks"}),
    ("raw produce nothing", lambda s: s.produce("t", 0, []), ClusterError, r"at least one value", {}),
    # regression: a negative timeout reached the admin client's RPC and its failed invariant poisoned the simulation
    ("raw produce negative timeout", lambda s: s.produce("t", 0, ["a"], timeout_ms=-1), ClusterError,
     r"timeout_ms must be >= 0, got -1", {"error": "INVALID_REQUEST"}),
    ("log of broker 9", lambda s: s.log(9, "t", 0), ClusterError, r"unknown node 9 \(nodes are 1..3", {}),
    ("log of unknown topic", lambda s: s.log(1, "nope", 0), ClusterError, r"nope-0", {}),
    ("dump_log of broker 9", lambda s: s.dump_log(9, "t", 0), KsimError, r"9 is not a broker", {}),
    ("dump_log of unknown topic", lambda s: s.dump_log(1, "nope", 0), KsimError, r"broker 1 has no replica of nope-0", {}),
    ("describe_transaction ''", lambda s: s.describe_transaction(""), ArgumentError, r"empty transactional.id", {}),
    ("describe_transaction unknown", lambda s: s.describe_transaction("nope"), ClusterError, r"'nope'", {}),
]


@pytest.mark.parametrize("call, exc, pattern, attrs", cases(ADMIN))
def test_admin_and_describe(sim, call, exc, pattern, attrs):
    expect(lambda: call(sim), exc, pattern, **attrs)


# ---- faults ---------------------------------------------------------------------------------

FAULTS = [
    ("crash 0", lambda s: s.crash(0), ClusterError, r"unknown node 0 \(nodes are 1..3", {"error": "INVALID_REQUEST"}),
    ("crash 99", lambda s: s.crash(99), ClusterError, r"unknown node 99", {}),
    ("crash -1", lambda s: s.crash(-1), ClusterError, r"unknown node -1", {}),
    ("crash '1'", lambda s: s.crash("1"), TypeError, r"crash\(\): incompatible function arguments", {}),
    ("restart 99", lambda s: s.restart(99), ClusterError, r"unknown node 99", {}),
    ("shutdown 99", lambda s: s.shutdown(99), ClusterError, r"unknown node 99", {}),
    # regression: a negative timeout answered False (as if the shutdown had timed out) after crashing the broker
    ("shutdown negative timeout", lambda s: s.shutdown(1, timeout_ms=-5), ClusterError, r"timeout_ms must be >= 0", {}),
    ("power_fail 99", lambda s: s.power_fail(99), ClusterError, r"unknown node 99", {}),
    ("pause 99", lambda s: s.pause(99, 100), ClusterError, r"unknown node 99", {}),
    ("pause 0 ms", lambda s: s.pause(1, 0), ClusterError, r"positive duration", {}),
    ("pause -10 ms", lambda s: s.pause(1, -10), ClusterError, r"positive duration", {}),
    ("partition with node 99", lambda s: s.partition([[1], [99]]), ClusterError, r"unknown node 99", {}),
    ("partition overlapping groups", lambda s: s.partition([[1, 2], [2, 3]]), KsimError, r"node 1 appears in two", {}),
    ("partition no groups", lambda s: s.partition([]), KsimError, r"at least one group", {}),
    ("partition flat list", lambda s: s.partition([1, 2]), TypeError, r"List\[List\[int\]\]", {}),
    ("isolate 99", lambda s: s.isolate(99), ClusterError, r"unknown node 99", {}),
    ("slow_disk 99", lambda s: s.slow_disk(99, 2.0), ClusterError, r"unknown node 99", {}),
    ("slow_disk x0.5", lambda s: s.slow_disk(1, 0.5), ClusterError, r"from 1 to 1e6", {}),
    ("slow_disk NaN", lambda s: s.slow_disk(1, float("nan")), ClusterError, r"from 1 to 1e6", {}),
    # regression: an infinite factor was accepted and overflowed every disk latency (int64 nanoseconds)
    ("slow_disk inf", lambda s: s.slow_disk(1, float("inf")), ClusterError, r"got inf", {}),
    ("disk_full 99", lambda s: s.disk_full(99), ClusterError, r"unknown node 99", {}),
    ("disk_stall 99", lambda s: s.disk_stall(99), ClusterError, r"unknown node 99", {}),
    # regression: answered False
    ("rolling_restart negative timeout", lambda s: s.rolling_restart(timeout_ms=-1), ClusterError,
     r"rolling_restart: timeout_ms must be >= 0", {}),
]


@pytest.mark.parametrize("call, exc, pattern, attrs", cases(FAULTS))
def test_faults(sim, call, exc, pattern, attrs):
    expect(lambda: call(sim), exc, pattern, **attrs)


def test_faults_on_a_node_that_is_down():
    s = ksim.Simulation(seed=3, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    s.crash(2)
    expect(lambda: s.crash(2), ClusterError, r"node 2 is already down", error="INVALID_REQUEST")
    expect(lambda: s.pause(2, 100), ClusterError, r"cannot pause node 2: it is down")
    expect(lambda: s.shutdown(2), ClusterError, r"node 2 is already down")
    expect(lambda: s.log(2, "t", 0), ClusterError, r"node 2 is down or not a broker: restart it to read its log")
    expect(lambda: s.dump_log(2, "t", 0), KsimError, r"broker 2 is down")
    s.restart(2)
    s.run_for(100)


# ---- running: run_for / run_until / check / export --------------------------------------------

def _not_bool():
    class Weird:
        def __bool__(self):
            raise ZeroDivisionError("no truth value")
    return Weird()


RUNNING = [
    ("run_for -1", lambda s: s.run_for(-1), ClusterError, r"non-negative duration, got -1", {"error": "INVALID_REQUEST"}),
    # regression: milliseconds past the int64-nanosecond clock overflowed into "a time in the past"
    ("run_for past the end of the clock", lambda s: s.run_for(10**13), ClusterError, r"end of the virtual clock", {}),
    ("run_for 2**63", lambda s: s.run_for(2**63), TypeError, r"run_for\(\): incompatible function arguments", {}),
    ("run_for 1.5", lambda s: s.run_for(1.5), TypeError, r"ms: int", {}),
    ("run_for '10'", lambda s: s.run_for("10"), TypeError, r"ms: int", {}),
    ("run_until negative timeout", lambda s: s.run_until(lambda: False, timeout_ms=-1), ArgumentError,
     r"timeout_ms must be >= 0", {}),
    ("run_until not callable", lambda s: s.run_until(5), TypeError, r"predicate", {}),
    ("run_until predicate raises", lambda s: s.run_until(lambda: 1 / 0), ZeroDivisionError, r"division by zero", {}),
    ("run_until truthiness raises", lambda s: s.run_until(_not_bool), ZeroDivisionError, r"no truth value", {}),
    # regression: a negative converge timeout was taken and the verdict reported a liveness failure
    ("check negative converge timeout", lambda s: s.check(converge_timeout_ms=-1), ClusterError,
     r"converge_timeout_ms must be >= 0", {}),
    ("export into a missing directory", lambda s: s.export("/no/such/dir/x.db"), KsimError,
     r"export\('/no/such/dir/x.db'\).*no directory /no/such/dir", {}),
    # regression: export("") wrote SQLite's anonymous temporary database and reported success
    ("export ''", lambda s: s.export(""), KsimError, r"needs a file path", {}),
    ("export onto a directory", lambda s: s.export("/tmp"), KsimError, r"/tmp: it is a directory", {}),
]


@pytest.mark.parametrize("call, exc, pattern, attrs", cases(RUNNING))
def test_running(sim, call, exc, pattern, attrs):
    expect(lambda: call(sim), exc, pattern, **attrs)


# ---- sim.network rules ------------------------------------------------------------------------

NETWORK = [
    ("hold from node 99", lambda n: n.hold(src=99), KsimError, r"unknown node 99", {}),
    ("drop to node 0", lambda n: n.drop(dst=0), KsimError, r"unknown node 0", {}),
    ("misspelled API", lambda n: n.hold(src=1, api="Fetchh"), KsimError, r"unknown API 'Fetchh'", {}),
    ("bad direction", lambda n: n.hold(src=1, direction="sideways"), KsimError, r"not 'sideways'", {}),
    ("count 0", lambda n: n.hold(src=1, count=0), KsimError, r"count must be positive", {}),
    ("count -1", lambda n: n.duplicate(src=1, count=-1), TypeError, r"count: Optional\[int\]", {}),
    ("delay -5 ms", lambda n: n.delay(src=1, extra_ms=-5), KsimError, r"extra_ms must be >= 0", {}),
    ("release unknown handle", lambda n: n.release(12345), KsimError, r"unknown network rule 12345", {}),
    ("discard unknown handle", lambda n: n.discard(12345), KsimError, r"unknown network rule 12345", {}),
    ("held of unknown handle", lambda n: n.held(12345), KsimError, r"unknown network rule 12345", {}),
]


@pytest.mark.parametrize("call, exc, pattern, attrs", cases(NETWORK))
def test_network_rules(sim, call, exc, pattern, attrs):
    expect(lambda: call(sim.network), exc, pattern, **attrs)


def test_ending_a_rule_twice_is_harmless(sim):
    # Deliberately idempotent (a script may release in a finally: block): an
    # ended rule holds nothing, and releasing or discarding it again does nothing.
    h = sim.network.hold(src=1, dst=2, api="Fetch", direction="response", count=1)
    sim.network.release(h)
    sim.network.release(h)
    sim.network.discard(h)
    assert sim.network.held(h) == 0


# ---- nemesis, workload, pipeline ---------------------------------------------------------------

DRIVERS = [
    ("nemesis kind 'meteor'", lambda s: s.nemesis(ksim.nemesis.Random(kinds=["meteor"])), KsimError,
     r"unknown nemesis kind 'meteor' \(known: crash", {}),
    ("nemesis interval 0", lambda s: s.nemesis(ksim.nemesis.Random(interval_ms=0)), KsimError, r"interval_ms must be positive", {}),
    ("nemesis max_active 0", lambda s: s.nemesis(ksim.nemesis.Random(max_active=0)), KsimError, r"max_active must be at least 1", {}),
    ("start_nemesis kind 'meteor'", lambda s: s.start_nemesis(["meteor"]), ClusterError, r"unknown nemesis kind 'meteor'", {}),
    ("start_nemesis interval 0", lambda s: s.start_nemesis(["crash"], interval_ms=0), ArgumentError, r"interval_ms must be positive", {}),
    ("workload rate -5", lambda s: s.workload("t", rate_per_s=-5), KsimError, r"rate_per_s must be positive", {}),
    ("workload rate NaN", lambda s: s.workload("t", rate_per_s=float("nan")), KsimError, r"rate_per_s must be positive", {}),
    ("workload -1 producers", lambda s: s.workload("t", producers=-1), KsimError, r"client count must be >= 0", {}),
    ("workload no clients", lambda s: s.workload("t", producers=0, consumers=0), KsimError, r"no producers and no consumers", {}),
    ("workload producer 99", lambda s: s.workload("t", producers=[99]), ClusterError, r"99 is not a producer client", {}),
    ("workload broker as producer", lambda s: s.workload("t", producers=[1]), ClusterError, r"1 is not a producer client", {}),
    ("workload commit 'never'", lambda s: s.workload("t", commit="never"), KsimError, r"'auto', 'sync' or 'async', not 'never'", {}),
    ("workload misspelled producer key", lambda s: s.workload("t", producer_config={"ackss": "1"}), KsimError,
     r"Unknown configuration 'ackss' for a producer", {}),
    ("workload idempotence with acks=1", lambda s: s.workload("t", producer_config={"acks": "1", "enable.idempotence": "true"}),
     KsimError, r"Must set acks to all", {}),
    ("workload transaction_records 0", lambda s: s.workload("t", transaction_records=0), ArgumentError, r"transaction_records must be >= 1", {}),
    ("workload abort_probability 2", lambda s: s.workload("t", abort_probability=2), ArgumentError, r"\[0, 1\]", {}),
    # regressions: negative values were taken silently (a negative duration meant "forever")
    ("workload duration -5", lambda s: s.workload("t", duration_ms=-5), ArgumentError, r"duration_ms must be >= 0", {}),
    ("workload key_space -5", lambda s: s.workload("t", key_space=-5), ArgumentError, r"key_space must be >= 0", {}),
    ("workload value_bytes -5", lambda s: s.workload("t", value_bytes=-5), ArgumentError, r"value_bytes must be >= 0", {}),
    ("workload processing -5", lambda s: s.workload("t", processing_us_per_record=-5), ArgumentError,
     r"processing_us_per_record must be >= 0", {}),
    ("pipeline into itself", lambda s: s.pipeline("t", "t"), KsimError, r"input and output topics must differ", {}),
    ("pipeline 0 instances", lambda s: s.pipeline("t", "out", instances=0), KsimError, r"at least one instance", {}),
    ("pipeline abort_probability 2", lambda s: s.pipeline("t", "out", abort_probability=2.0), KsimError, r"\[0, 1\]", {}),
]


@pytest.mark.parametrize("call, exc, pattern, attrs", cases(DRIVERS))
def test_nemesis_workload_pipeline(sim, call, exc, pattern, attrs):
    expect(lambda: call(sim), exc, pattern, **attrs)


# ---- clients: configuration ----------------------------------------------------------------------

CLIENT_CONFIG = [
    ("producer", {"ackss": "all"}, ConfigError, r"Unknown configuration 'ackss' for a producer", "ackss"),
    ("producer", {"acks": "2"}, ConfigError, r"Invalid value 2 for configuration acks", "acks"),
    ("producer", {"acks": "1", "enable.idempotence": "true"}, ConfigError, r"Must set acks to all", "acks"),
    ("producer", {"retries": "0", "enable.idempotence": "true"}, ConfigError, r"retries to non-zero", "retries"),
    ("producer", {"max.in.flight.requests.per.connection": 6, "enable.idempotence": True}, ConfigError, r"at most 5",
     "max.in.flight.requests.per.connection"),
    ("producer", {"transactional.id": "x", "enable.idempotence": "false"}, ConfigError,
     r"transactional.id without also enabling idempotence", "enable.idempotence"),
    ("producer", {"linger.ms": -1}, ConfigError, r"linger.ms: Value must be at least 0", "linger.ms"),
    ("producer", {"batch.size": "abc"}, ConfigError, r"Not a number", "batch.size"),
    ("producer", {"acks": ["all"]}, ConfigError, r"type list", "acks"),
    ("producer", {"partitioner.class": "Foo"}, ConfigError, r"RoundRobinPartitioner", "partitioner.class"),
    ("producer", {"on_delivery": 5}, ConfigError, r"expected a callable", "on_delivery"),
    ("consumer", {"group.idd": "g"}, ConfigError, r"Unknown configuration 'group.idd' for a consumer", "group.idd"),
    ("consumer", {"auto.offset.reset": "middle"}, ConfigError, r"latest, earliest, none", "auto.offset.reset"),
    ("consumer", {"isolation.level": "read_mostly"}, ConfigError, r"read_uncommitted, read_committed", "isolation.level"),
    ("consumer", {"group.id": "g", "heartbeat.interval.ms": 50_000, "session.timeout.ms": 45_000}, ConfigError,
     r"lower than the session timeout", "heartbeat.interval.ms"),
    ("consumer", {"group.id": "g", "partition.assignment.strategy": "foo"}, ConfigError, r"Unknown assignor",
     "partition.assignment.strategy"),
]


@pytest.mark.parametrize("kind, conf, exc, pattern, key", CLIENT_CONFIG,
                         ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CLIENT_CONFIG])
def test_client_config(sim, kind, conf, exc, pattern, key):
    expect(lambda: getattr(sim, kind)(conf), exc, pattern, key=key)


def test_client_constructor_arguments(sim):
    expect(lambda: sim.producer({1: "all"}), ArgumentTypeError, r"keys are strings, not int")
    expect(lambda: sim.producer(["acks"]), TypeError, r"conf: dict")
    expect(lambda: sim.producer(partitioner=5), ArgumentTypeError, r"partitioner must be callable")
    expect(lambda: sim.consumer(on_commit=3), ArgumentTypeError, r"on_commit must be callable")


# ---- clients: calls ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def producer(sim):
    return sim.producer({"acks": "all"})


@pytest.fixture(scope="module")
def consumer(sim):
    c = sim.consumer({"auto.offset.reset": "earliest"})  # no group.id
    c.assign([TopicPartition("t", 0, 0)])
    return c


PRODUCER_CALLS = [
    ("value int", lambda p: p.produce("t", value=5), ArgumentTypeError, r"value must be bytes or str \(or None\), not int"),
    ("key list", lambda p: p.produce("t", value=b"v", key=[1]), ArgumentTypeError, r"key must be bytes or str"),
    ("partition -3", lambda p: p.produce("t", value=b"v", partition=-3), ArgumentError, r"partition must be >= 0"),
    ("empty topic", lambda p: p.produce("", value=b"v"), ArgumentError, r"topic must be a non-empty string"),
    ("timestamp -1", lambda p: p.produce("t", value=b"v", timestamp=-1), ArgumentError, r"timestamp must be milliseconds >= 0"),
    ("headers not pairs", lambda p: p.produce("t", value=b"v", headers=[1]), ArgumentTypeError, r"headers are a dict"),
    ("on_delivery not callable", lambda p: p.produce("t", value=b"v", on_delivery=1), ArgumentTypeError,
     r"on_delivery must be callable"),
    ("flush -1", lambda p: p.flush(-1), ArgumentError, r"flush\(\): timeout_ms must be >= 0"),
    ("poll -1", lambda p: p.poll(-1), ArgumentError, r"poll\(\): timeout_ms must be >= 0"),
    ("init_transactions without transactional.id", lambda p: p.init_transactions(1_000), KafkaException,
     r"without a transactional.id"),
    ("begin_transaction without transactional.id", lambda p: p.begin_transaction(), KafkaException,
     r"beginTransaction without a transactional.id"),
    ("commit_transaction without transactional.id", lambda p: p.commit_transaction(1_000), KafkaException,
     r"commitTransaction without a transactional.id"),
]


@pytest.mark.parametrize("call, exc, pattern", cases(PRODUCER_CALLS))
def test_producer_calls(producer, call, exc, pattern):
    expect(lambda: call(producer), exc, pattern)


CONSUMER_CALLS = [
    ("subscribe without group.id", lambda c: c.subscribe(["t"]), KafkaException, r"must provide a valid group.id"),
    ("commit without group.id", lambda c: c.commit(offsets=[TopicPartition("t", 0, 1)]), KafkaException, r"group.id"),
    ("committed without group.id", lambda c: c.committed([TopicPartition("t", 0)], timeout_ms=1_000), KafkaException, r"group.id"),
    ("subscribe []", lambda c: c.subscribe([]), ArgumentError, r"no topics given"),
    ("subscribe [1]", lambda c: c.subscribe([1]), ArgumentTypeError, r"topics are strings, not int"),
    ("subscribe bad regex", lambda c: c.subscribe(["^(unclosed"]), ArgumentError, r"invalid topic regex"),
    ("subscribe callback not callable", lambda c: c.subscribe(["t"], on_assign=5), ArgumentTypeError, r"must be callable"),
    ("assign 't'", lambda c: c.assign("t"), ArgumentTypeError, r"takes a list of ksim.TopicPartition, not str"),
    ("assign partition -1", lambda c: c.assign([TopicPartition("t")]), ArgumentError, r"a partition number is needed"),
    ("seek unassigned partition", lambda c: c.seek(TopicPartition("t", 1, 0)), KafkaException,
     r"No current assignment for partition t-1"),
    ("seek offset -7", lambda c: c.seek(TopicPartition("t", 0, -7)), ArgumentError, r"offset must be >= 0"),
    ("seek a str", lambda c: c.seek("t"), ArgumentTypeError, r"seek\(\) takes a ksim.TopicPartition"),
    ("poll -1", lambda c: c.poll(-1), ArgumentError, r"timeout_ms must be >= 0"),
    ("consume 0", lambda c: c.consume(0), ArgumentError, r"num_messages must be 1..1000000"),
    ("commit message and offsets", lambda c: c.commit(message=1, offsets=[]), ArgumentError, r"not both"),
    ("commit a str", lambda c: c.commit(message="x"), ArgumentTypeError, r"message must be a ksim.Message"),
]


@pytest.mark.parametrize("call, exc, pattern", cases(CONSUMER_CALLS))
def test_consumer_calls(consumer, call, exc, pattern):
    expect(lambda: call(consumer), exc, pattern)


def test_transactions_out_of_order():
    s = ksim.Simulation(seed=5, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    p = s.producer({"transactional.id": "tx"})
    e = expect(lambda: p.begin_transaction(), KafkaException, r"beginTransaction in state UNINITIALIZED")
    assert e.kind == "IllegalStateException"
    p.init_transactions(30_000)
    expect(lambda: p.produce("t", value=b"x"), KafkaException, r"send in state READY")
    expect(lambda: p.commit_transaction(1_000), KafkaException, r"commitTransaction in state READY")
    expect(lambda: p.abort_transaction(1_000), KafkaException, r"abortTransaction in state READY")
    p.begin_transaction()
    expect(lambda: p.send_offsets_to_transaction("x", None), TypeError, r"group_metadata")
    p.produce("t", value=b"ok", partition=0)
    p.commit_transaction(30_000)  # still usable after every refusal
    assert s.describe_transaction("tx")["state"] in ("CompleteCommit", "Empty", "PrepareCommit")


def test_calls_after_crash_and_close():
    s = ksim.Simulation(seed=6, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    p = s.producer({"acks": "all"})
    c = s.consumer({"group.id": "g"})
    s.crash(p.id)
    s.crash(c.id)
    for call, what in [(lambda: p.produce("t", value=b"x"), "produce"), (lambda: p.flush(100), "flush"),
                       (lambda: p.poll(0), "poll"), (lambda: p.begin_transaction(), "begin_transaction"),
                       (lambda: c.poll(100), "poll"), (lambda: c.commit(), "commit"),
                       (lambda: c.subscribe(["t"]), "subscribe")]:
        expect(call, KsimError, rf"{what}\(\): \w+-\d+ \(client node \d+\) is down \(crashed\); sim.restart\(\d+\)")
    expect(lambda: s.crash(c.id), ClusterError, rf"node {c.id} is already down")
    s.restart(p.id)
    s.restart(c.id)
    p.close()
    c.close()
    c.close()  # closing twice is harmless, as in confluent-kafka
    for call, what in [(lambda: p.produce("t", value=b"x"), "produce"), (lambda: p.flush(), "flush"),
                       (lambda: c.poll(100), "poll"), (lambda: c.assign([TopicPartition("t", 0)]), "assign")]:
        expect(call, KsimError, rf"{what}\(\): \w+-\d+ \(client node \d+\) is closed")


# ---- exceptions raised by Python callbacks ------------------------------------------------------

class Boom(Exception):
    pass


def _raise(*_):
    raise Boom("from the callback")


def test_callback_exceptions_reach_the_caller_and_leave_the_simulation_intact():
    s = ksim.Simulation(seed=8, brokers=3)
    s.create_topic("t", partitions=2, replication_factor=3)

    # on_delivery: raised by the flush() that serves the report; the other reports are still served later
    got = []
    p = s.producer({"acks": "all"})
    p.produce("t", value=b"a", partition=0, on_delivery=_raise)
    p.produce("t", value=b"b", partition=0, on_delivery=lambda err, msg: got.append((err, msg.value())))
    expect(lambda: p.flush(10_000), Boom, r"from the callback")
    assert p.flush(10_000) == 0 and got == [(None, b"b")]

    # a custom partitioner: raised by produce() itself
    q = s.producer(partitioner=_raise)
    expect(lambda: q.produce("t", value=b"c"), Boom, r"from the callback")
    expect(lambda: s.producer(partitioner=lambda key, n: "one").produce("t", value=b"c"), ArgumentTypeError,
           r"partitioner must return an int partition, not str")
    expect(lambda: s.producer(partitioner=lambda key, n: 99).produce("t", value=b"c"), ArgumentError,
           r"returned partition 99 for topic t, which has 2 partitions")

    # on_assign: raised by the poll() that ran the rebalance; the consumer keeps its assignment
    c = s.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"], on_assign=_raise)
    expect(lambda: c.poll(10_000), Boom, r"from the callback")
    assert sorted(tp.partition for tp in c.assignment()) == [0, 1]
    assert c.poll(5_000).value() in (b"a", b"b")

    # on_revoke, run by close(): raised there; the consumer is closed all the same
    c.subscribe(["t"], on_revoke=_raise)
    c.poll(2_000)
    expect(lambda: c.close(), Boom, r"from the callback")
    expect(lambda: c.poll(10), KafkaException, r"already been closed")

    # a run_until predicate
    expect(lambda: s.run_until(_raise), Boom, r"from the callback")
    before = s.now
    s.run_for(500)
    assert s.now == before + 500
    assert s.check().ok


# ---- the shared simulation survived ---------------------------------------------------------------

def test_the_shared_simulation_survived_the_catalogue(sim):
    # Runs last in this module (pytest keeps file order): every refusal above
    # left the cluster consistent and usable.
    sim.heal()
    before = sim.now
    sim.run_for(1_000)
    assert sim.now == before + 1_000
    r = sim.produce("t", 0, ["still-alive"], acks="all")
    assert r["error"] is None
    assert sim.check(converge_timeout_ms=60_000).ok


# ---- the CLI ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-cli")
    (d / "junk.db").write_text("not sqlite")
    (d / "random.db").write_bytes(bytes((i * 7919) % 251 for i in range(4096)))
    (d / "empty.db").write_bytes(b"")
    (d / "junk.pb").write_bytes(b"\xff\xff\xff\xff\x0f garbage")
    (d / "raises.py").write_text('def scenario(seed):\n    raise ValueError("boom from the scenario")\n')
    (d / "syntax.py").write_text("def scenario(seed:\n")
    return d


CLI = [
    (["run"], 2, r"which scenario\?"),
    (["run", "/no/such.py"], 2, r"cannot read scenario file '/no/such.py'"),
    (["run", "raises.py", "--seed", "abc"], 2, r"--seed must be a non-negative integer, not 'abc'"),
    # regression: Boost's lexical_cast wrapped -1 to seed 18446744073709551615
    (["run", "raises.py", "--seed", "-1"], 2, r"--seed must be a non-negative integer, not '-1'"),
    (["run", "raises.py", "--seed", "99999999999999999999999"], 2, r"out of range"),
    (["run", "raises.py", "--bogus"], 2, r"unrecognised option '--bogus'"),
    (["run", "raises.py"], 1, r"ValueError: boom from the scenario"),
    (["run", "syntax.py"], 1, r"SyntaxError"),
    (["sweep", "raises.py"], 2, r"usage: ksim sweep"),
    (["sweep", "raises.py", "--seeds", "1:2", "--jobs", "0"], 2, r"--jobs must be at least 1"),
    (["sweep", "/no/such.py", "--seeds", "1:2"], 2, r"cannot read scenario file"),
    (["describe"], 2, r"which run file\?"),
    (["describe", "/no/such.db"], 2, r"cannot read run file '/no/such.db'"),
    (["describe", "junk.db"], 2, r"junk.db is not a ksim run file"),
    (["describe", "random.db"], 2, r"random.db is not a ksim run file"),
    (["describe", "empty.db"], 2, r"empty.db is not a ksim run file"),
    (["describe", "junk.db", "--at", "abc"], 2, r"ksim describe: .*'abc'"),
    (["dump-log", "junk.db"], 2, r"ksim dump-log:"),
    (["dump-log", "/no/such.db", "--broker", "1", "--topic", "t", "--partition", "0"], 2, r"cannot read run file"),
    (["dump-log", "junk.db", "--broker", "x", "--topic", "t", "--partition", "0"], 2, r"\('x'\) for option '--broker'"),
    (["dump-log", "junk.db", "--broker", "1", "--topic", "t", "--partition", "0"], 2, r"not a ksim run file"),
    (["report"], 2, r"which run file\?"),
    (["report", "/no/such.db"], 2, r"cannot read run file"),
    (["report", "random.db"], 2, r"not a ksim run file"),
    (["report", "junk.pb"], 2, r"junk.pb"),
    (["frobnicate"], 2, r"unknown command 'frobnicate'"),
    (["demo", "--story", "nope"], 2, r"unknown story 'nope'"),
    (["demo", "--seed", "-3"], 2, r"--seed must be a non-negative integer"),
]


@pytest.mark.parametrize("args, code, pattern", CLI, ids=[" ".join(c[0]) for c in CLI])
def test_cli(files, args, code, pattern):
    r = subprocess.run([ksim_bin(), *args], capture_output=True, text=True, timeout=120, cwd=files)
    assert r.returncode == code, r.stdout + r.stderr
    assert re.search(pattern, r.stderr), r.stderr
    if code == 2:
        assert "Traceback" not in r.stderr  # a usage or file problem is a message, not a crash


def test_cli_on_a_truncated_run_file(files, tmp_path):
    # A real run file cut in half (a copy interrupted mid-way): refused with a message, never a crash.
    s = ksim.Simulation(seed=4, brokers=3)
    s.create_topic("t", partitions=1, replication_factor=3)
    s.produce("t", 0, ["a", "b"])
    s.run_for(1_000)
    full = tmp_path / "full.db"
    s.export(str(full))
    cut = tmp_path / "cut.db"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    for cmd in (["report", str(cut)], ["describe", str(cut)],
                ["dump-log", str(cut), "--broker", "1", "--topic", "t", "--partition", "0"]):
        r = subprocess.run([ksim_bin(), *cmd], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2, (cmd, r.stdout, r.stderr)
        assert "cut.db" in r.stderr and r.returncode < 128, r.stderr
