"""The Python clients: sim.producer() / sim.consumer(), shaped like confluent-kafka."""
import gc
import re

import pytest

import ksim


def cluster(seed=1, partitions=1, topic="t", brokers=3, config=None):
    sim = ksim.Simulation(seed=seed, brokers=brokers, config=config or {})
    sim.create_topic(topic, partitions=partitions, replication_factor=3)
    return sim


def produce_all(sim, topic, records, conf=None):
    """Produces (key, value, partition) records; returns the delivery reports."""
    p = sim.producer(conf or {})
    reports = []
    for key, value, partition in records:
        p.produce(topic, value=value, key=key, partition=partition,
                  on_delivery=lambda err, msg: reports.append((err, msg)))
    assert p.flush(timeout_ms=10_000) == 0
    return p, reports


# ---- producer ---------------------------------------------------------------------------------

def test_produce_flush_reports_offsets_in_order():
    sim = cluster()
    p, reports = produce_all(sim, "t", [(f"k{i}".encode(), f"v{i}", 0) for i in range(10)])
    assert len(reports) == 10 and len(p) == 0
    assert [err for err, _ in reports] == [None] * 10
    assert [m.offset() for _, m in reports] == list(range(10))
    assert [m.value() for _, m in reports] == [f"v{i}".encode() for i in range(10)]  # str sent as UTF-8 bytes
    assert [m.key() for _, m in reports] == [f"k{i}".encode() for i in range(10)]
    assert {(m.topic(), m.partition()) for _, m in reports} == {("t", 0)}
    assert all(m.error() is None for _, m in reports)
    kind, ts = reports[0][1].timestamp()
    assert kind == ksim.TIMESTAMP_CREATE_TIME and 0 <= ts <= sim.now
    # What the brokers hold is what was acknowledged.
    assert [v for _, v in sim.log(1, "t", 0)] == [f"v{i}".encode() for i in range(10)]


def test_topics_are_created_on_first_use_as_in_kafka():
    sim = ksim.Simulation(seed=4, brokers=3, config={"num.partitions": "3"})
    p, reports = produce_all(sim, "fresh", [(None, "hello", None)])
    assert reports[0][0] is None
    assert [i.partition for i in sim.describe_topic("fresh")] == [0, 1, 2]  # num.partitions
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["also-fresh"])
    c.poll(timeout_ms=3_000)
    assert len(sim.describe_topic("also-fresh")) == 3  # a subscription creates it too
    quiet = sim.consumer({"group.id": "h", "allow.auto.create.topics": False})
    quiet.subscribe(["never"])
    quiet.poll(timeout_ms=3_000)
    with pytest.raises(ksim.ClusterError, match="unknown topic"):
        sim.describe_topic("never")
    off = ksim.Simulation(seed=4, brokers=3, config={"auto.create.topics.enable": "false"})
    res = []
    p = off.producer({"max.block.ms": 500})
    p.produce("nope", value="x", on_delivery=lambda e, m: res.append(e))
    p.flush(timeout_ms=2_000)
    assert len(res) == 1 and res[0] is not None  # failed after max.block.ms: the topic never appeared
    with pytest.raises(ksim.ClusterError, match="unknown topic"):
        off.describe_topic("nope")


def test_a_group_subscribed_to_a_topic_created_later_gets_its_partitions_soon():
    # Kafka's consumer asks for metadata again (retry.backoff.ms) while a
    # subscribed topic is unknown, not after metadata.max.age.ms (5 minutes).
    sim = ksim.Simulation(seed=5, brokers=3, config={"auto.create.topics.enable": "false"})
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["later"])
    assert c.poll(timeout_ms=5_000) is None
    sim.create_topic("later", partitions=2, replication_factor=3)
    assert sim.produce("later", 1, ["x"])["error"] is None
    got = None
    for _ in range(20):
        got = got or c.poll(timeout_ms=500)
    assert got is not None and got.value() == b"x"
    assert sorted(tp.partition for tp in c.assignment()) == [0, 1]


def test_delivery_reports_wait_for_poll_or_flush():
    sim = cluster()
    p = sim.producer({"linger.ms": 0})
    reports = []
    p.produce("t", value=b"x", partition=0, on_delivery=lambda err, msg: reports.append(msg.offset()))
    sim.run_for(2_000)                     # delivered, but the report is only served by poll()/flush()
    assert reports == [] and len(p) == 1
    assert p.poll(0) == 1
    assert reports == [0] and len(p) == 0
    p.produce("t", value=b"y", partition=0, on_delivery=lambda err, msg: reports.append(msg.offset()))
    assert p.poll(timeout_ms=5_000) == 1   # poll(timeout) runs the simulation until a report is ready
    assert reports == [0, 1]


def test_producer_defaults_are_kafka_4_acks_all_idempotent():
    sim = cluster()
    p = sim.producer({})
    cfg = p.effective_config()
    assert cfg["acks"] == "all" and cfg["enable.idempotence"] == "true"
    assert cfg["max.in.flight.requests.per.connection"] == "5"
    p.produce("t", value=b"x", partition=0)
    assert p.flush(timeout_ms=5_000) == 0
    pid, epoch = p.producer_id()
    assert pid >= 0 and epoch == 0
    # Python values are accepted for config (bool/int -> Kafka's strings).
    q = sim.producer({"acks": 1, "enable.idempotence": False, "linger.ms": 20})
    assert q.effective_config()["acks"] == "1" and q.effective_config()["linger.ms"] == "20"
    assert q.producer_id() is None


def test_config_errors_name_the_key():
    sim = cluster()
    with pytest.raises(ksim.ConfigError) as e:
        sim.producer({"enable.idempotence": "true", "acks": "1"})
    assert e.value.key == "acks" and "idempotent" in str(e.value)
    with pytest.raises(ksim.ConfigError) as e:
        sim.producer({"linger.msec": 5})
    assert e.value.key == "linger.msec"
    with pytest.raises(ksim.ConfigError) as e:
        sim.consumer({"group.id": "g", "session.timeout.ms": "3000", "heartbeat.interval.ms": "3000"})
    assert e.value.key == "heartbeat.interval.ms"
    with pytest.raises(ksim.ConfigError) as e:
        sim.consumer({"auto.offset.reset": "sometimes"})
    assert e.value.key == "auto.offset.reset"
    assert isinstance(e.value, ksim.KsimError)
    # A refused configuration creates no client node: the next client gets the next id.
    before = sim.producer({}).id
    with pytest.raises(ksim.ConfigError):
        sim.producer({"acks": "2"})
    assert sim.producer({}).id == before + 1


def test_python_partitioner_routes_keys():
    sim = cluster(partitions=4)
    seen = []

    def by_last_digit(key, count):
        seen.append((key, count))
        return int(key.decode()[-1]) % count

    p = sim.producer({}, partitioner=by_last_digit)
    reports = []
    for i in range(8):
        p.produce("t", key=f"user-{i}", value=f"v{i}", on_delivery=lambda err, msg: reports.append(msg))
    assert p.flush(timeout_ms=10_000) == 0
    assert seen == [(f"user-{i}".encode(), 4) for i in range(8)]
    assert sorted((m.key(), m.partition()) for m in reports) == sorted((f"user-{i}".encode(), i % 4) for i in range(8))
    # An explicit partition bypasses the partitioner; a failing partitioner fails produce().
    p.produce("t", key=b"user-1", value=b"explicit", partition=3)
    assert len(seen) == 8
    bad = sim.producer({}, partitioner=lambda key, count: count + 7)
    with pytest.raises(ValueError, match="partition 11"):
        bad.produce("t", key=b"k", value=b"v")
    raising = sim.producer({}, partitioner=lambda key, count: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        raising.produce("t", key=b"k", value=b"v")


def test_failed_delivery_reports_kafka_error():
    sim = cluster()
    p = sim.producer({"max.block.ms": 500})
    reports = []
    p.produce("t", value=b"x", partition=7, on_delivery=lambda err, msg: reports.append((err, msg)))
    assert p.flush(timeout_ms=5_000) == 0
    [(err, msg)] = reports
    assert isinstance(err, ksim.KafkaError) and err.name() == "DELIVERY_TIMEOUT"
    assert msg.error() == err and msg.offset() == ksim.OFFSET_INVALID
    assert "DELIVERY_TIMEOUT" in err.str()
    assert ksim.KafkaError("NOT_ENOUGH_REPLICAS").code() == ksim.KafkaError.NOT_ENOUGH_REPLICAS == 19
    assert ksim.KafkaError(19).retriable()


def test_callback_exception_propagates_from_flush():
    sim = cluster()
    p = sim.producer({})

    def boom(err, msg):
        raise RuntimeError("callback failed")

    p.produce("t", value=b"x", partition=0, on_delivery=boom)
    with pytest.raises(RuntimeError, match="callback failed"):
        p.flush(timeout_ms=5_000)


def test_produce_argument_errors():
    sim = cluster()
    p = sim.producer({})
    with pytest.raises(TypeError, match="value must be bytes or str"):
        p.produce("t", value=42)
    with pytest.raises(TypeError, match="on_delivery must be callable"):
        p.produce("t", value=b"x", on_delivery="not callable")
    with pytest.raises(ValueError):
        p.produce("", value=b"x")
    with pytest.raises(TypeError, match="headers"):
        p.produce("t", value=b"x", headers=[("only-a-name",)])
    assert len(p) == 0


# ---- consumer ---------------------------------------------------------------------------------

def test_assign_and_poll_read_records_in_order():
    sim = cluster()
    produce_all(sim, "t", [(f"k{i}".encode(), f"v{i}".encode(), 0) for i in range(6)])
    p = sim.producer({})
    p.produce("t", value=b"with-headers", key=None, partition=0, headers={"trace": b"abc", "empty": None})
    p.flush(timeout_ms=5_000)
    c = sim.consumer({"auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("t", 0, offset=0)])
    got = []
    while (m := c.poll(timeout_ms=1_000)) is not None:
        got.append(m)
    assert [m.offset() for m in got] == list(range(7))
    assert [(m.key(), m.value()) for m in got[:6]] == [(f"k{i}".encode(), f"v{i}".encode()) for i in range(6)]
    last = got[6]
    assert last.key() is None and last.value() == b"with-headers"
    assert last.headers() == [("trace", b"abc"), ("empty", b"")]
    assert got[0].headers() is None
    assert c.position([ksim.TopicPartition("t", 0)])[0].offset == 7
    # seek back, and assign from an offset.
    c.seek(ksim.TopicPartition("t", 0, 4))
    assert c.poll(timeout_ms=1_000).offset() == 4
    c.assign([ksim.TopicPartition("t", 0, offset=ksim.OFFSET_END)])
    assert c.poll(timeout_ms=500) is None
    assert c.get_watermark_offsets(ksim.TopicPartition("t", 0)) == (0, 7)


def test_consume_batches_and_pause():
    sim = cluster(partitions=2)
    produce_all(sim, "t", [(None, f"v{i}".encode(), i % 2) for i in range(10)])
    c = sim.consumer({"auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("t", 0), ksim.TopicPartition("t", 1)])
    c.pause([ksim.TopicPartition("t", 1)])
    first = c.consume(num_messages=10, timeout_ms=2_000)
    assert {m.partition() for m in first} == {0} and len(first) == 5
    c.resume([ksim.TopicPartition("t", 1)])
    rest = c.consume(num_messages=10, timeout_ms=2_000)
    assert [m.value() for m in rest] == [f"v{i}".encode() for i in range(1, 10, 2)]


def test_subscribe_group_assignment_commit_and_describe_group():
    sim = cluster(partitions=3, topic="orders")
    produce_all(sim, "orders", [(f"k{i}".encode(), f"v{i}".encode(), None) for i in range(30)])
    assigned = []
    c = sim.consumer({"group.id": "billing", "auto.offset.reset": "earliest", "enable.auto.commit": "false"})
    c.subscribe(["orders"], on_assign=lambda consumer, partitions: assigned.append((consumer, partitions)))
    got = c.consume(num_messages=30, timeout_ms=15_000)
    assert len(got) == 30
    assert len(assigned) == 1
    consumer, partitions = assigned[0]
    assert consumer is c
    assert sorted(partitions) == [ksim.TopicPartition("orders", p) for p in range(3)]
    assert c.memberid() is not None and c.generation() >= 1

    committed = c.commit()
    ends = {tp.partition: tp.offset for tp in committed}
    assert sum(ends.values()) == 30
    assert [tp.offset for tp in c.committed([ksim.TopicPartition("orders", p) for p in range(3)])] == \
        [ends[p] for p in range(3)]

    g = sim.describe_group("billing")
    assert g.state == "Stable" and g.error is None and g.protocol == "range"
    [member] = g.members
    assert member.client == c.id and member.client_id == c.name and member.member_id == c.memberid()
    assert sorted(member.assignment) == [("orders", p) for p in range(3)]
    assert member.subscription == ["orders"]
    assert g.offsets == {("orders", p): ends[p] for p in range(3)}
    assert g.lag == {("orders", p): 0 for p in range(3)}
    text = str(g)
    assert "LOG-END-OFFSET" in text and c.name in text

    # Commit one message: its offset + 1; lag shows what is left.
    c.commit(message=got[0])
    g = sim.describe_group("billing")
    tp = (got[0].topic(), got[0].partition())
    assert g.offsets[tp] == got[0].offset() + 1
    assert g.lag[tp] == ends[tp[1]] - got[0].offset() - 1


def test_async_commit_reports_to_on_commit():
    sim = cluster()
    produce_all(sim, "t", [(None, b"a", 0), (None, b"b", 0)])
    results = []
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest",
                      "on_commit": lambda err, partitions: results.append((err, partitions))})
    c.subscribe("t")
    assert c.poll(timeout_ms=10_000).value() == b"a"
    assert c.commit(asynchronous=True) is None
    for _ in range(10):                            # the result is reported from a later call
        c.poll(timeout_ms=200)
        if results:
            break
    [(err, partitions)] = results
    assert err is None and [(tp.topic, tp.partition, tp.offset) for tp in partitions] == [("t", 0, 1)]


def test_subscribe_regex_and_rebalance_between_two_members():
    sim = ksim.Simulation(seed=4, brokers=3)
    for t in ("orders", "order-returns", "payments"):
        sim.create_topic(t, partitions=2, replication_factor=3)
    revoked = []
    c1 = sim.consumer({"group.id": "g"})
    c1.subscribe(["^order.*"], on_revoke=lambda c, parts: revoked.append(sorted(parts)))
    c1.poll(timeout_ms=8_000)
    assert sorted((tp.topic, tp.partition) for tp in c1.assignment()) == \
        [("order-returns", 0), ("order-returns", 1), ("orders", 0), ("orders", 1)]
    c2 = sim.consumer({"group.id": "g"})
    c2.subscribe(["^order.*"])
    for _ in range(10):
        c1.poll(timeout_ms=500)
        c2.poll(timeout_ms=500)
    assert revoked, "the eager rebalance revoked c1's partitions"
    a1 = {(tp.topic, tp.partition) for tp in c1.assignment()}
    a2 = {(tp.topic, tp.partition) for tp in c2.assignment()}
    assert a1 and a2 and not (a1 & a2) and len(a1 | a2) == 4
    g = sim.describe_group("g")
    assert g.state == "Stable" and sorted(m.client for m in g.members) == sorted([c1.id, c2.id])
    with pytest.raises(ValueError, match="regex"):
        c2.subscribe(["^(unclosed"])


def test_consumer_argument_errors_and_kafka_exceptions():
    sim = cluster()
    c = sim.consumer({})
    with pytest.raises(TypeError, match="TopicPartition"):
        c.assign(["t"])
    with pytest.raises(ValueError, match="partition number"):
        c.assign([ksim.TopicPartition("t")])
    with pytest.raises(ksim.KafkaException) as e:
        c.poll(timeout_ms=10)                       # neither subscribed nor assigned
    assert e.value.kind == "IllegalStateException"
    assert isinstance(e.value.args[0], ksim.KafkaError)
    with pytest.raises(ksim.KafkaException) as e:
        c.subscribe(["t"])                          # no group.id
    assert e.value.kind == "InvalidGroupIdException"
    # An unknown topic: like Kafka's consumer, poll() waits for it and returns nothing.
    c.assign([ksim.TopicPartition("no-such-topic", 0, offset=0)])
    assert c.poll(timeout_ms=1_000) is None
    with pytest.raises(ValueError):
        c.seek(ksim.TopicPartition("no-such-topic", 0, -5))


# ---- faults and lifecycle -----------------------------------------------------------------------

def test_crashed_and_closed_clients_raise_ksim_error():
    sim = cluster()
    c = sim.consumer({"auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("t", 0, 0)])
    c.poll(timeout_ms=100)
    sim.crash(c.id)
    with pytest.raises(ksim.KsimError, match=re.escape(c.name) + r".*down"):
        c.poll(timeout_ms=100)
    with pytest.raises(ksim.KsimError, match="down"):
        c.commit()
    sim.restart(c.id)                                # a fresh consumer: assign again
    with pytest.raises(ksim.KafkaException):
        c.poll(timeout_ms=10)
    produce_all(sim, "t", [(None, b"after-restart", 0)])
    c.assign([ksim.TopicPartition("t", 0, 0)])
    assert c.poll(timeout_ms=2_000).value() == b"after-restart"
    c.close()
    c.close()                                        # idempotent
    with pytest.raises(ksim.KsimError, match="closed"):
        c.poll(timeout_ms=10)

    p = sim.producer({})
    p.produce("t", value=b"x", partition=0, on_delivery=lambda err, msg: pytest.fail("a dead producer's callback ran"))
    sim.crash(p.id)
    with pytest.raises(ksim.KsimError, match=re.escape(p.name) + r".*down"):
        p.produce("t", value=b"y")
    with pytest.raises(ksim.KsimError):
        p.flush(timeout_ms=100)
    sim.restart(p.id)
    assert p.flush(timeout_ms=100) == 0 and len(p) == 0   # the crashed producer's records died with it
    p.produce("t", value=b"z", partition=0)
    p.close()
    with pytest.raises(ksim.KsimError, match="closed"):
        p.produce("t", value=b"w")


def test_dump_log_of_a_live_replica():
    sim = cluster()
    produce_all(sim, "t", [(b"k", b"hello\x00world", 0)])
    text = sim.dump_log(2, "t", 0)
    assert text.startswith("Dumping broker 2 t-0")
    assert "highWatermark: 1" in text and "baseOffset: 0 lastOffset: 0 count: 1" in text
    assert "| offset: 0 CreateTime:" in text and "key: k payload: hello\\x00world" in text
    sim.crash(2)
    with pytest.raises(ksim.KsimError, match="down"):
        sim.dump_log(2, "t", 0)
    with pytest.raises(ksim.KsimError, match="no replica"):
        sim.dump_log(1, "t", 5)


# ---- determinism and checking -------------------------------------------------------------------

def scripted_run(seed):
    sim = cluster(seed=seed, partitions=2)
    p = sim.producer({"linger.ms": 2})
    reports = []
    for i in range(20):
        p.produce("t", key=f"k{i}", value=f"v{i}", on_delivery=lambda err, msg: reports.append(
            (msg.partition(), msg.offset())))
        if i % 5 == 4:
            sim.run_for(7)
    p.flush(timeout_ms=10_000)
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    polled = [(m.partition(), m.offset(), m.value()) for m in c.consume(num_messages=20, timeout_ms=10_000)]
    c.commit()
    return sim, reports, polled


def test_identical_scripts_give_identical_traces():
    sim1, r1, p1 = scripted_run(9)
    sim2, r2, p2 = scripted_run(9)
    assert r1 == r2 and p1 == p2 and len(p1) == 20
    assert sim1.trace_hash() == sim2.trace_hash()


def test_check_after_a_producer_consumer_run():
    sim, reports, polled = scripted_run(3)
    v = sim.check()
    assert v.ok, str(v)
    assert v.stats.acked == 20 and v.stats.records_polled == 20 and v.stats.commits >= 1


def test_clients_do_not_keep_the_simulation_alive():
    import weakref

    def run():
        sim = cluster()
        c = sim.consumer({"group.id": "g"})
        # A callback whose closure names the consumer and the simulation: a cycle.
        c.subscribe(["t"], on_assign=lambda consumer, parts: (c, sim))
        c.poll(timeout_ms=3_000)
        p = sim.producer({}, partitioner=lambda key, n: (p, 0)[1])
        p.produce("t", key=b"k", value=b"v", on_delivery=lambda err, msg: (p, sim))
        return weakref.ref(sim)

    ref = run()
    ksim.Simulation(seed=1, brokers=1)  # ksim.last_simulation() now names this one
    gc.collect()
    assert ref() is None


def test_type_stubs_cover_the_public_surface():
    """Every public name of the extension (module level, classes, methods) is in _ksim.pyi."""
    import ast
    import os

    from ksim import _ksim

    stub = ast.parse(open(os.path.join(os.path.dirname(ksim.__file__), "_ksim.pyi")).read())

    def members(body):
        out = {}
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                out[node.name] = node
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                out[node.target.id] = node
        return out

    top = members(stub.body)
    missing = []
    for name in dir(_ksim):
        if name.startswith("_"):
            continue
        if name not in top:
            missing.append(name)
            continue
        obj = getattr(_ksim, name)
        if isinstance(obj, type) and not issubclass(obj, BaseException):
            declared = members(top[name].body)
            for attr in vars(obj):
                if not attr.startswith("_") and attr.upper() != attr and attr not in declared:
                    missing.append(f"{name}.{attr}")
    assert missing == []
    # The package's stub re-exports everything the package exports.
    pkg = ast.parse(open(os.path.join(os.path.dirname(ksim.__file__), "__init__.pyi")).read())
    names = {a.asname or a.name for n in pkg.body if isinstance(n, ast.ImportFrom) for a in n.names}
    names |= set(members(pkg.body))
    assert set(ksim.__all__) - names == set()


def test_retention_a_late_consumer_resets_to_the_log_start_and_the_checkers_stay_quiet():
    # 90 s of records in 10 s segments, 30 s kept, retention checked every 5 s.
    sim = ksim.Simulation(seed=5, brokers=3, config={"log.retention.check.interval.ms": "5000"})
    sim.create_topic("t", partitions=1, replication_factor=3, config={"segment.ms": "10000", "retention.ms": "30000"})
    p = sim.producer({"acks": "all"})
    for i in range(90):
        p.produce("t", value=f"r{i}", partition=0)
        p.flush(timeout_ms=5_000)
        sim.run_for(1_000)
    sim.run_for(10_000)
    starts = {r.broker: r.log_start_offset for r in sim.describe_topic("t")[0].replica_states}
    assert len(set(starts.values())) == 1 and 40 <= starts[1] <= 70, starts
    start = starts[1]
    # A consumer that asks for offset 0 is out of range and resets to the earliest record kept.
    c = sim.consumer({"group.id": "late", "auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("t", 0, 0)])
    got = []
    while len(got) < 90 - start:
        m = c.poll(timeout_ms=2_000)
        assert m is not None, got
        got.append(m)
    assert got[0].offset() == start and got[0].value() == f"r{start}".encode()
    v = sim.check()
    assert v.ok, v.anomalies
