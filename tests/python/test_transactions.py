"""Transactions from Python: confluent-kafka's transactional producer API on ksim."""
import pytest

import ksim


def cluster(seed=1, config=None):
    conf = {"transaction.state.log.num.partitions": "3", "offsets.topic.num.partitions": "3"}
    conf.update(config or {})
    sim = ksim.Simulation(seed=seed, brokers=3, config=conf)
    sim.create_topic("t", partitions=2, replication_factor=3)
    return sim


def read_all(sim, isolation, partitions=2, ms=5_000):
    c = sim.consumer({"isolation.level": isolation, "auto.offset.reset": "earliest"})
    c.assign([ksim.TopicPartition("t", p, offset=0) for p in range(partitions)])
    out = []
    end = sim.now + ms
    while sim.now < end:
        m = c.poll(timeout_ms=200)
        if m is not None and m.error() is None:
            out.append(m.value())
    return sorted(out)


def test_commit_is_visible_to_read_committed_and_abort_is_not():
    sim = cluster()
    p = sim.producer({"transactional.id": "tx", "linger.ms": "0"})
    p.init_transactions()
    p.begin_transaction()
    p.produce("t", value=b"aborted", partition=0)
    assert p.flush(timeout_ms=10_000) == 0
    p.abort_transaction()
    p.begin_transaction()
    p.produce("t", value=b"kept-0", partition=0)
    p.produce("t", value=b"kept-1", partition=1)
    p.commit_transaction()
    assert read_all(sim, "read_committed") == [b"kept-0", b"kept-1"]
    assert read_all(sim, "read_uncommitted") == [b"aborted", b"kept-0", b"kept-1"]
    v = sim.check()
    assert v.ok, str(v)


def test_a_second_producer_fences_the_first():
    sim = cluster(seed=2)
    old = sim.producer({"transactional.id": "shared"})
    old.init_transactions()
    old.begin_transaction()
    old.produce("t", value=b"zombie", partition=0)
    old.flush(timeout_ms=10_000)
    new = sim.producer({"transactional.id": "shared"})
    new.init_transactions(timeout_ms=60_000)
    with pytest.raises(ksim.KafkaException, match="ProducerFencedException") as fenced:
        old.commit_transaction()
    assert fenced.value.args[0].fatal() and not fenced.value.args[0].txn_requires_abort()
    with pytest.raises(ksim.KafkaException, match="fatal"):  # a fenced producer stays unusable
        old.begin_transaction()
    assert read_all(sim, "read_committed") == []


def test_offsets_commit_with_the_transaction():
    sim = cluster(seed=3)
    src = sim.producer({})
    for i in range(4):
        src.produce("t", value=f"in-{i}", partition=0)
    src.flush(timeout_ms=10_000)
    c = sim.consumer({"group.id": "g", "enable.auto.commit": "false", "auto.offset.reset": "earliest",
                      "isolation.level": "read_committed"})
    c.subscribe(["t"])
    got = []
    while len(got) < 4:
        m = c.poll(timeout_ms=500)
        if m is not None and m.error() is None:
            got.append(m)
    gm = c.consumer_group_metadata()
    assert gm.group_id == "g" and gm.generation_id >= 1 and gm.member_id
    p = sim.producer({"transactional.id": "pipeline"})
    p.init_transactions()
    p.begin_transaction()
    p.produce("t", value=b"out", partition=1)
    p.send_offsets_to_transaction([ksim.TopicPartition("t", 0, offset=4)], gm)
    p.commit_transaction()
    [tp] = c.committed([ksim.TopicPartition("t", 0)])
    assert tp.offset == 4


def test_transactional_misuse_raises_clear_errors():
    sim = cluster(seed=4)
    p = sim.producer({"transactional.id": "misuse"})
    with pytest.raises(ksim.KafkaException, match="IllegalStateException"):
        p.begin_transaction()
    with pytest.raises(ksim.KafkaException, match="IllegalStateException"):
        p.produce("t", value=b"x", partition=0)
    p.init_transactions()
    with pytest.raises(ksim.KafkaException, match="IllegalStateException"):
        p.commit_transaction()
    p.begin_transaction()
    with pytest.raises(ksim.KafkaException, match="IllegalStateException"):
        p.begin_transaction()
    with pytest.raises(ValueError, match="no offset"):
        p.send_offsets_to_transaction([ksim.TopicPartition("t", 0)], sim.consumer({"group.id": "g"}).consumer_group_metadata())
    with pytest.raises(ksim.ConfigError, match="idempotence"):
        sim.producer({"transactional.id": "x", "enable.idempotence": "false"})
    with pytest.raises(ksim.ConfigError, match="acks"):
        sim.producer({"transactional.id": "x", "acks": "1"})
    plain = sim.producer({})
    with pytest.raises(ksim.KafkaException, match="without a transactional.id"):
        plain.init_transactions()


def test_a_crashed_transactional_producer_cannot_be_used():
    sim = cluster(seed=5)
    p = sim.producer({"transactional.id": "crashy"})
    p.init_transactions()
    sim.crash(p.id)
    with pytest.raises(ksim.KsimError, match="down|crashed"):
        p.begin_transaction()


def test_transactions_are_deterministic():
    def run():
        sim = cluster(seed=6)
        p = sim.producer({"transactional.id": "det"})
        p.init_transactions()
        for i in range(3):
            p.begin_transaction()
            p.produce("t", value=f"v{i}", partition=i % 2)
            (p.commit_transaction if i % 2 == 0 else p.abort_transaction)()
        return sim.trace_hash()
    assert run() == run()


@pytest.mark.parametrize("seed", [1, 2])
def test_transactional_workload_under_faults_keeps_its_promises(seed):
    sim = cluster(seed=seed)
    w = sim.workload("t", producers=2, consumers=2, rate_per_s=400, duration_ms=15_000,
                     producer_config={"transactional.id": "app"},
                     consumer_config={"isolation.level": "read_committed", "auto.offset.reset": "earliest"},
                     transaction_records=10, abort_probability=0.25)
    sim.nemesis(ksim.nemesis.Random(kinds=["crash", "partition"], interval_ms=3_000))
    sim.run_for(20_000)
    v = sim.check()
    assert w.transactions_committed > 10 and w.transactions_aborted > 0
    assert v.ok, str(v)
    assert not [a for a in v.anomalies if a.kind in ("aborted-read", "exactly-once")]


def pipeline_cluster(seed):
    sim = cluster(seed=seed)
    sim.create_topic("in", partitions=2, replication_factor=3)
    sim.workload("in", producers=1, rate_per_s=200, duration_ms=8_000)
    return sim


def test_a_transactional_pipeline_is_exactly_once_even_with_aborts():
    sim = pipeline_cluster(7)
    p = sim.pipeline("in", "t", instances=2, abort_probability=0.3)
    sim.run_for(20_000)
    v = sim.check()
    assert p.commits > 0 and p.aborts > 0 and p.records_in >= 1600
    assert v.ok, str(v)
    assert not [a for a in v.anomalies if a.kind == "exactly-once"]


def test_the_exactly_once_checker_fires_on_a_pipeline_that_forgets_to_rewind():
    sim = pipeline_cluster(7)
    sim.pipeline("in", "t", instances=2, abort_probability=0.3, rewind_after_abort=False)
    sim.run_for(20_000)
    v = sim.check()
    lost = [a for a in v.violations if a.kind == "exactly-once"]
    assert lost and "zero times" in lost[0].explanation


def test_pipeline_misuse_raises():
    sim = cluster(seed=8)
    with pytest.raises(ksim.KsimError, match="must differ"):
        sim.pipeline("t", "t")
    with pytest.raises(ksim.KsimError, match="at least one instance"):
        sim.pipeline("t", "out", instances=0)


def test_the_trace_store_keeps_transaction_outcomes(tmp_path):
    import sqlite3
    sim = cluster(seed=9)
    p = sim.producer({"transactional.id": "exported"})
    p.init_transactions()
    for outcome in ("commit", "abort"):
        p.begin_transaction()
        p.produce("t", value=f"v-{outcome}", partition=0)
        p.flush(timeout_ms=10_000)
        (p.commit_transaction if outcome == "commit" else p.abort_transaction)()
    read_all(sim, "read_committed", partitions=1, ms=1_000)
    path = tmp_path / "txn.db"
    sim.export(str(path))
    db = sqlite3.connect(str(path))
    rows = db.execute("select value, transactional, txn_state from ops where type = 'send' order by id").fetchall()
    assert rows == [("v-commit", 1, "committed"), ("v-abort", 1, "aborted")]
    assert db.execute("select count(*) from ops where type = 'poll' and read_committed = 1").fetchone()[0] > 0


def test_describe_shows_an_open_transaction_and_the_last_stable_offset():
    sim = cluster(seed=10)
    p = sim.producer({"transactional.id": "shown", "linger.ms": "0"})
    p.init_transactions()
    assert sim.describe_transaction("shown")["state"] == "Empty"
    p.begin_transaction()
    p.produce("t", value=b"open", partition=1)
    p.flush(timeout_ms=10_000)
    d = sim.describe_transaction("shown")
    assert d["state"] == "Ongoing" and d["partitions"] == [("t", 1)] and d["producer_epoch"] == 0
    part = sim.describe_topic("t")[1]
    assert part.last_stable_offset == 0 and part.high_watermark == 1
    assert "LSO: 0" in sim.describe("t")
    p.commit_transaction()
    sim.run_for(1_000)
    assert sim.describe_transaction("shown")["state"] == "CompleteCommit"
    part = sim.describe_topic("t")[1]
    assert part.last_stable_offset == part.high_watermark == 2  # the record and its COMMIT marker
    with pytest.raises(ksim.ClusterError, match="TRANSACTIONAL_ID_NOT_FOUND"):
        sim.describe_transaction("never-used")


def test_kafka_error_flags_answer_as_confluent_kafkas():
    assert ksim.KafkaError("PRODUCER_FENCED").fatal()
    assert ksim.KafkaError("FENCED_INSTANCE_ID").fatal()
    assert not ksim.KafkaError("NOT_ENOUGH_REPLICAS").fatal()
    assert ksim.KafkaError("NOT_ENOUGH_REPLICAS").retriable()
    assert not ksim.KafkaError("PRODUCER_FENCED").retriable()
    epoch = ksim.KafkaError("INVALID_PRODUCER_EPOCH")
    assert epoch.txn_requires_abort() and not epoch.fatal()


def test_invalid_producer_epoch_on_produce_makes_the_transaction_abortable_not_the_producer_fatal():
    """KAFKA-10687: the coordinator aborted a timed-out transaction (TV2 bumps the
    epoch); the producer's next batch gets INVALID_PRODUCER_EPOCH, which asks for an
    abort (InvalidProducerEpochException), not PRODUCER_FENCED's end of the producer."""
    sim = cluster(seed=5, config={"transaction.abort.timed.out.transaction.cleanup.interval.ms": "1000"})
    errors = []
    p = sim.producer({"transactional.id": "tx", "transaction.timeout.ms": "1000"},
                     on_delivery=lambda err, msg: errors.append(err))
    p.init_transactions()
    p.begin_transaction()
    p.produce("t", value=b"a", partition=0)
    p.flush(timeout_ms=10_000)
    sim.run_for(5_000)  # past transaction.timeout.ms: the coordinator aborts it
    p.produce("t", value=b"b", partition=0)
    p.flush(timeout_ms=10_000)
    late = errors[-1]
    assert late is not None and late.name() == "INVALID_PRODUCER_EPOCH"
    assert late.txn_requires_abort() and not late.fatal()
    with pytest.raises(ksim.KafkaException, match="abort it") as e:
        p.commit_transaction()
    assert e.value.args[0].txn_requires_abort()


def _late_write_after_abort(protocol):
    """A Produce of an aborted transaction stuck in the network arrives after the abort."""
    sim = ksim.Simulation(seed=1, brokers=3, config={"ksim.transaction.protocol": protocol,
                                                     "transaction.state.log.num.partitions": "3"})
    sim.create_topic("payments", partitions=1, replication_factor=3)
    p = sim.producer({"transactional.id": "payments-app", "request.timeout.ms": "1000",
                      "delivery.timeout.ms": "3000", "linger.ms": "0"})
    p.init_transactions()
    p.begin_transaction()
    leader = sim.describe_topic("payments")[0].leader
    stuck = sim.network.hold(src=p.id, dst=leader, api="Produce", direction="request", count=None)
    p.produce("payments", value=b"debit-1", partition=0)
    p.flush(timeout_ms=10_000)
    with pytest.raises(ksim.KafkaException):
        p.commit_transaction()
    p.abort_transaction()
    sim.network.release(stuck)
    sim.run_for(1_000)
    return sim.check()


def test_a_hanging_transaction_is_a_liveness_violation_without_a_full_read():
    """TV1: the late write opens a transaction its coordinator never heard of; no
    next transaction commits it, so the partition's last stable offset hangs below
    the high watermark for good (the hanging transactions of KIP-664 / KIP-890)."""
    v = _late_write_after_abort("v1")
    hanging = [a for a in v.violations if a.kind == "liveness"]
    assert len(hanging) == 1, str(v)
    assert "payments-0 has a hanging transaction" in hanging[0].explanation
    assert "last stable offset stays at 1 below the high watermark 2" in hanging[0].explanation


def test_no_hanging_transaction_with_kip_890():
    v = _late_write_after_abort("v2")
    assert v.ok, str(v)


@pytest.mark.parametrize("protocol", ["v1", "v2"])
def test_an_abort_before_any_partition_was_added_leaves_the_producer_usable(protocol):
    """linger.ms holds the records: the abort comes before the producer ever sent
    AddPartitionsToTxn (TV1), right after a committed transaction. Under TV1 the
    coordinator knows of no open transaction, so the client must not send an
    EndTxn(abort) (it met CompleteCommit and was refused INVALID_TXN_STATE — a
    fatal error: the hunt's transactional producers died at their first abort)."""
    sim = ksim.Simulation(seed=1, brokers=3, config={"ksim.transaction.protocol": protocol})
    sim.create_topic("t", partitions=2, replication_factor=3)
    p = sim.producer({"transactional.id": "x", "linger.ms": "20"})
    p.init_transactions()
    for i in range(4):
        p.begin_transaction()
        for k in range(3):
            p.produce("t", key=f"k{k}", value=f"t{i}-{k}")
        if i % 2:
            p.commit_transaction()
        else:
            p.abort_transaction()
    v = sim.check()
    assert v.ok, str(v)
