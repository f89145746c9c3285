"""ksim._ksim — the C++ core of ksim (pybind11). Import it through `ksim`.

Durations are virtual milliseconds everywhere (`_ms` keyword names). Nodes are
numbered like broker.ids: brokers 1..N, dedicated controllers after them, then
client processes (the admin client, every sim.producer / sim.consumer) after
those. Every error derives from KsimError.
"""
from typing import Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

Bytes = Union[bytes, bytearray, memoryview, str]
ConfValue = Union[str, int, float, bool]

__version__: str  # the project's version, e.g. "0.1.0"

# ---- constants (confluent-kafka's) ------------------------------------------------------------

OFFSET_BEGINNING: int  # -2: the first offset of the partition
OFFSET_END: int  # -1: the end of the partition (the high watermark)
OFFSET_STORED: int  # -1000: the group's committed offset
OFFSET_INVALID: int  # -1001: no offset / unknown
TIMESTAMP_NOT_AVAILABLE: int  # 0
TIMESTAMP_CREATE_TIME: int  # 1
TIMESTAMP_LOG_APPEND_TIME: int  # 2

# ---- errors -----------------------------------------------------------------------------------

class KsimError(Exception):
    """Misuse of the simulation: an unknown node, a crashed or closed client, a run that failed."""

class ArgumentError(KsimError, ValueError):
    """A bad argument value (a negative timeout, an empty topic list): also a ValueError, as in confluent-kafka."""

class ArgumentTypeError(KsimError, TypeError):
    """A bad argument type that ksim checks (a non-callable callback): also a TypeError."""

class ConfigError(KsimError):
    """An unknown configuration key, a bad value, or an invalid combination (Kafka's wording)."""

    key: str
    """The offending configuration key (e.g. 'acks' for enable.idempotence=true with acks=1)."""

class ClusterError(KsimError):
    """The cluster answered a request with a Kafka error."""

    error: str
    """Kafka's error name, e.g. 'TOPIC_ALREADY_EXISTS'."""

class KafkaException(KsimError):
    """A client call failed the way Kafka's Java client fails.

    args[0] is the KafkaError; .kind the Java exception class
    (CommitFailedException, TimeoutException, IllegalStateException,
    InvalidGroupIdException, NoOffsetForPartitionException, ...)."""

    kind: str

class KafkaError:
    """A Kafka error (confluent-kafka's KafkaError).

    Every Kafka error name is also a class attribute holding its code:
    KafkaError.NOT_ENOUGH_REPLICAS == 19, KafkaError.DELIVERY_TIMEOUT == -100
    (ksim's name for the client-side delivery timeout), ...
    Equality compares codes, also with an int."""

    NO_ERROR: int
    NOT_ENOUGH_REPLICAS: int
    NOT_ENOUGH_REPLICAS_AFTER_APPEND: int
    NOT_LEADER_OR_FOLLOWER: int
    REQUEST_TIMED_OUT: int
    DELIVERY_TIMEOUT: int
    UNKNOWN_TOPIC_OR_PARTITION: int
    OUT_OF_ORDER_SEQUENCE_NUMBER: int
    ILLEGAL_GENERATION: int
    UNKNOWN_MEMBER_ID: int
    REBALANCE_IN_PROGRESS: int
    FENCED_LEADER_EPOCH: int
    PRODUCER_FENCED: int
    def __init__(self, error: Union[int, str], reason: Optional[str] = None) -> None:
        """KafkaError(code_or_name, reason=None)."""
    def code(self) -> int:
        """Kafka's numeric error code."""
    def name(self) -> str:
        """Kafka's error name, e.g. 'NOT_ENOUGH_REPLICAS'."""
    def str(self) -> str:
        """A human-readable description."""
    def retriable(self) -> bool:
        """Retriable as Kafka classifies it (RetriableException)."""
    def fatal(self) -> bool:
        """The client cannot go on: PRODUCER_FENCED (or any ProducerFencedException), FENCED_INSTANCE_ID."""
    def txn_requires_abort(self) -> bool:
        """The transaction must be aborted, the producer lives on: INVALID_PRODUCER_EPOCH on
        Produce (KAFKA-10687, InvalidProducerEpochException), TRANSACTION_ABORTABLE."""
    @property
    def kind(self) -> str:
        """The Java exception class behind a failed call, or ''."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

# ---- records ----------------------------------------------------------------------------------

class TopicPartition:
    """A topic partition and an offset (confluent-kafka's TopicPartition).

    Offsets: >= 0 absolute, OFFSET_BEGINNING, OFFSET_END, OFFSET_STORED,
    OFFSET_INVALID. Equality, ordering and hashing use (topic, partition)."""

    topic: str
    partition: int
    offset: int
    metadata: Optional[str]
    leader_epoch: Optional[int]
    @property
    def error(self) -> Optional[KafkaError]: ...
    def __init__(
        self,
        topic: str,
        partition: int = -1,
        offset: int = -1001,
        metadata: Optional[str] = None,
        leader_epoch: Optional[int] = None,
    ) -> None: ...
    def __eq__(self, other: object) -> bool: ...
    def __lt__(self, other: "TopicPartition") -> bool: ...
    def __hash__(self) -> int: ...

class Message:
    """A record: one Consumer.poll() result, or the `msg` of a delivery report."""

    def topic(self) -> str: ...
    def partition(self) -> Optional[int]: ...
    def offset(self) -> int:
        """The offset; OFFSET_INVALID when unknown (acks=0, a failed delivery)."""
    def key(self) -> Optional[bytes]: ...
    def value(self) -> Optional[bytes]: ...
    def headers(self) -> Optional[list[Tuple[str, Optional[bytes]]]]:
        """[(name, value), ...] in order, or None when the record has none."""
    def timestamp(self) -> Tuple[int, int]:
        """(TIMESTAMP_CREATE_TIME | TIMESTAMP_LOG_APPEND_TIME | TIMESTAMP_NOT_AVAILABLE, ms)."""
    def error(self) -> Optional[KafkaError]:
        """None, or why the delivery failed."""
    def leader_epoch(self) -> Optional[int]:
        """The leader epoch of the batch (consumed records)."""
    def __len__(self) -> int: ...

DeliveryCallback = Callable[[Optional[KafkaError], Message], object]
RebalanceCallback = Callable[["Consumer", list[TopicPartition]], object]
CommitCallback = Callable[[Optional[KafkaError], list[TopicPartition]], object]

# ---- clients ----------------------------------------------------------------------------------

class Producer:
    """A Kafka producer on a client node of its own (sim.producer(conf)).

    Callback rule: on_delivery(err, msg) runs only inside poll(), flush() and
    close() (as confluent-kafka serves delivery reports) — never from inside the
    simulation; sim.run_for() leaves delivered reports queued. produce() may run
    the simulation while it waits for the topic's metadata (max.block.ms).
    A crash (sim.crash(p.id)) loses what was pending and its callbacks, like a
    JVM dying; sim.restart(p.id) boots a fresh producer with the same config.
    Every call on a crashed or closed producer raises KsimError."""

    @property
    def id(self) -> int:
        """The client node id (sim.crash / restart / pause / partition accept it)."""
    @property
    def name(self) -> str:
        """The client name (client.id, default 'producer-<id>')."""
    def produce(
        self,
        topic: str,
        value: Optional[Bytes] = None,
        key: Optional[Bytes] = None,
        partition: Optional[int] = None,
        on_delivery: Optional[DeliveryCallback] = None,
        headers: Optional[Union[Mapping[str, Optional[Bytes]], Sequence[Tuple[str, Optional[Bytes]]]]] = None,
        timestamp: Optional[int] = None,
        callback: Optional[DeliveryCallback] = None,
    ) -> None:
        """Hand a record to the producer. str is sent as UTF-8; partition None/-1
        lets the partitioner choose (murmur2 of the key, sticky for null keys, or
        the Python partitioner); timestamp ms, None/0: now (virtual). A None value
        is sent as an empty value."""
    def poll(self, timeout_ms: int = 0) -> int:
        """Serve queued delivery reports (running the simulation up to timeout_ms
        until one is ready); returns how many were served."""
    def flush(self, timeout_ms: Optional[int] = None) -> int:
        """Run the simulation until everything produced is delivered or failed
        (or timeout_ms passed), serve the reports; returns how many are left."""
    def close(self, timeout_ms: Optional[int] = None) -> None:
        """Kafka's close(timeout): send what is buffered, then stop; serves reports."""
    def effective_config(self) -> dict[str, str]:
        """Every producer key with its effective value (Kafka 4.0 defaults: acks=all, idempotence on)."""
    def metrics(self) -> dict[str, float]:
        """produce-throttle-time-avg / -max (ms) over metrics.num.samples x metrics.sample.window.ms."""
    def producer_id(self) -> Optional[Tuple[int, int]]:
        """(producer id, epoch) once InitProducerId answered (idempotent producers)."""
    def init_transactions(self, timeout_ms: Optional[int] = None) -> None:
        """transactional.id: get the id/epoch from the transaction coordinator, fencing older producers
        with the same transactional.id (their open transaction is aborted first). Raises KafkaException."""
    def begin_transaction(self) -> None:
        """Start a transaction (IllegalStateException before init_transactions or inside one)."""
    def send_offsets_to_transaction(self, positions: Iterable[TopicPartition], group_metadata: ConsumerGroupMetadata,
                                    timeout_ms: Optional[int] = None) -> None:
        """Commit consumer positions (next offsets to read) with the transaction (KIP-447 fencing by group_metadata)."""
    def commit_transaction(self, timeout_ms: Optional[int] = None) -> None:
        """Flush, then EndTxn(commit). Raises KafkaException if a send failed: abort then."""
    def abort_transaction(self, timeout_ms: Optional[int] = None) -> None:
        """Unsent records fail with TRANSACTION_ABORTED, in-flight ones are awaited, then EndTxn(abort)."""
    def __len__(self) -> int:
        """Records whose delivery report has not been served yet."""

class ConsumerGroupMetadata:
    """A consumer's group, generation and member id (Consumer.consumer_group_metadata())."""
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: Optional[str]

class Consumer:
    """A Kafka consumer (group.protocol classic, the default, or consumer: KIP-848) on its own client node (sim.consumer(conf)).

    poll() returns one Message at a time (it asks the Java-style consumer for at
    most one record, so positions, auto-commit and commit() always match what
    the application has seen) and runs the simulation while it waits. Rebalance
    callbacks run inside poll() (on the main context), so they may call the
    consumer (seek, commit). Kafka client errors raise KafkaException; calls on
    a crashed or closed consumer raise KsimError. After sim.restart(c.id) the
    consumer is a fresh one: subscribe() or assign() again."""

    @property
    def id(self) -> int:
        """The client node id (sim.crash / restart / pause / partition accept it)."""
    @property
    def name(self) -> str:
        """The client name (client.id, default 'consumer-<id>')."""
    def subscribe(
        self,
        topics: Union[str, Sequence[str]],
        on_assign: Optional[RebalanceCallback] = None,
        on_revoke: Optional[RebalanceCallback] = None,
        on_lost: Optional[RebalanceCallback] = None,
    ) -> None:
        """Join the group (needs group.id) for these topics; a name starting with
        '^' is a regular expression. on_lost defaults to on_revoke."""
    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read these partitions without group management. Each offset sets the
        start: >= 0, OFFSET_BEGINNING, OFFSET_END; OFFSET_INVALID/OFFSET_STORED:
        the committed offset, else auto.offset.reset."""
    def unassign(self) -> None: ...
    def unsubscribe(self) -> None: ...
    def assignment(self) -> list[TopicPartition]: ...
    def metrics(self) -> dict[str, float]:
        """fetch-throttle-time-avg / -max (ms) over metrics.num.samples x metrics.sample.window.ms."""
    def poll(self, timeout_ms: int = 1000) -> Optional[Message]:
        """The next record, or None after timeout_ms (virtual). poll(0) never advances time."""
    def consume(self, num_messages: int = 1, timeout_ms: int = 1000) -> list[Message]:
        """Up to num_messages records within timeout_ms (virtual)."""
    def commit(
        self,
        message: Optional[Message] = None,
        offsets: Optional[Iterable[TopicPartition]] = None,
        asynchronous: bool = False,
    ) -> Optional[list[TopicPartition]]:
        """Commit message.offset()+1, the given offsets, or every assigned
        partition's position. Synchronous by default (confluent's default is
        asynchronous): returns what was committed or raises KafkaException.
        asynchronous=True returns None; on_commit gets the result later."""
    def seek(self, partition: TopicPartition) -> None:
        """Move an assigned partition's position (offset >= 0, OFFSET_BEGINNING, OFFSET_END)."""
    def position(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        """Current positions (OFFSET_INVALID where unknown); never advances time."""
    def consumer_group_metadata(self) -> ConsumerGroupMetadata:
        """For Producer.send_offsets_to_transaction."""
    def committed(self, partitions: Iterable[TopicPartition], timeout_ms: Optional[int] = None) -> list[TopicPartition]:
        """The group's committed offsets (OFFSET_INVALID where none)."""
    def get_watermark_offsets(self, partition: TopicPartition, timeout_ms: Optional[int] = None) -> Tuple[int, int]:
        """(low, high) offsets (ListOffsets; high is the LSO with read_committed)."""
    def offsets_for_times(
        self, partitions: Iterable[TopicPartition], timeout_ms: Optional[int] = None
    ) -> list[TopicPartition]:
        """Offsets are timestamps (ms) in, the first offset at/after each out (OFFSET_END if none)."""
    def pause(self, partitions: Iterable[TopicPartition]) -> None: ...
    def resume(self, partitions: Iterable[TopicPartition]) -> None: ...
    def memberid(self) -> Optional[str]:
        """The group member id, or None."""
    def generation(self) -> int:
        """The group generation (-1: none)."""
    def close(self, timeout_ms: Optional[int] = None) -> None:
        """Commit (with auto-commit), revoke, leave the group. Idempotent."""
    def effective_config(self) -> dict[str, str]: ...

class GroupMember:
    """One member of a consumer group, as its coordinator holds it."""

    @property
    def member_id(self) -> str: ...
    @property
    def group_instance_id(self) -> Optional[str]: ...
    @property
    def client_id(self) -> str: ...
    @property
    def client(self) -> Optional[int]:
        """The ksim client node the member joined from (Kafka's client host) — not found
        by client.id, which two clients may share (a static member's replacement)."""
    @property
    def assignment(self) -> list[Tuple[str, int]]:
        """[(topic, partition), ...] from the last SyncGroup (group.protocol=consumer: what it owns now)."""
    @property
    def subscription(self) -> list[str]: ...
    @property
    def member_epoch(self) -> Optional[int]:
        """group.protocol=consumer: the member's epoch (-2: a static member that left); None for classic."""
    @property
    def member_state(self) -> Optional[str]:
        """group.protocol=consumer: STABLE, UNREVOKED_PARTITIONS or UNRELEASED_PARTITIONS; None for classic."""
    @property
    def pending_revocation(self) -> list[Tuple[str, int]]:
        """group.protocol=consumer: partitions it must revoke before it gets anything new."""
    @property
    def target(self) -> list[Tuple[str, int]]:
        """group.protocol=consumer: its partitions in the target assignment."""
    @property
    def classic_protocol(self) -> bool:
        """group.protocol=consumer: True for a member that still speaks JoinGroup / SyncGroup / Heartbeat
        (a classic consumer in a group upgraded online, or one that joined a consumer group)."""
    @property
    def subscribed_topic_regex(self) -> Optional[str]:
        """group.protocol=consumer: the regex the coordinator resolves for this member
        (subscribe(['^orders-.*'])); `subscription` then lists the topics it resolved to.
        None: the member subscribed by topic names."""

class GroupDescription:
    """A consumer group: DescribeGroups + OffsetFetch + each partition's high watermark.
    str() is kafka-consumer-groups --describe style."""

    @property
    def group_id(self) -> str: ...
    @property
    def error(self) -> Optional[str]:
        """None, or COORDINATOR_NOT_AVAILABLE / COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR."""
    @property
    def coordinator(self) -> int: ...
    @property
    def state(self) -> str:
        """Empty, PreparingRebalance, CompletingRebalance, Stable, Dead (unknown group);
        consumer groups: Empty, Assigning, Reconciling, Stable."""
    @property
    def generation(self) -> int:
        """Classic: the generation; group.protocol=consumer: the group epoch."""
    @property
    def group_protocol(self) -> str:
        """classic, or consumer (KIP-848)."""
    @property
    def group_epoch(self) -> Optional[int]:
        """group.protocol=consumer: the group epoch (None for classic)."""
    @property
    def assignment_epoch(self) -> Optional[int]:
        """group.protocol=consumer: the target assignment epoch (None for classic)."""
    @property
    def protocol_type(self) -> str: ...
    @property
    def protocol(self) -> str:
        """The assignor the group chose (range, roundrobin, sticky, cooperative-sticky)."""
    @property
    def leader(self) -> str:
        """The leader's member id."""
    @property
    def members(self) -> list[GroupMember]: ...
    @property
    def offsets(self) -> dict[Tuple[str, int], int]:
        """{(topic, partition): committed offset}."""
    @property
    def high_watermarks(self) -> dict[Tuple[str, int], int]: ...
    @property
    def lag(self) -> dict[Tuple[str, int], int]:
        """{(topic, partition): high watermark - committed offset}."""

# ---- observation ------------------------------------------------------------------------------

class ReplicaState:
    @property
    def broker(self) -> int: ...
    @property
    def log_end_offset(self) -> int: ...
    @property
    def high_watermark(self) -> int: ...
    @property
    def log_start_offset(self) -> int:
        """The first offset this replica holds: moved by retention (a follower's follows the leader's)."""
        ...
    @property
    def up(self) -> bool: ...

class PartitionInfo:
    """One partition as the cluster's metadata and replicas see it."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def leader(self) -> Optional[int]: ...
    @property
    def leader_epoch(self) -> int: ...
    @property
    def partition_epoch(self) -> int: ...
    @property
    def replicas(self) -> list[int]: ...
    @property
    def isr(self) -> list[int]: ...
    @property
    def elr(self) -> list[int]:
        """Eligible leader replicas (KIP-966)."""
    @property
    def last_known_elr(self) -> list[int]:
        """KIP-966: the last leader, kept once the ISR and the ELR are empty; it may
        lead again (an unclean election) when every eligible replica restarted uncleanly."""
    @property
    def high_watermark(self) -> int: ...
    @property
    def last_stable_offset(self) -> int:
        """Where read_committed consumers stop (the first open transaction's offset, or the HW)."""
    @property
    def log_end_offsets(self) -> dict[int, int]: ...
    @property
    def replica_states(self) -> list[ReplicaState]: ...

class Network:
    """Message rules by Kafka API (sim.network): hold, release, discard, drop, duplicate, delay.

    api: a Kafka API name (Produce, Fetch, OffsetsForLeaderEpoch, AlterPartition,
    BrokerHeartbeat, Vote, MetadataFetch, EndTxn, ...); direction 'request',
    'response' or 'any'; count None: every match until released."""

    def hold(
        self,
        src: Optional[int] = None,
        dst: Optional[int] = None,
        api: Optional[str] = None,
        direction: str = "request",
        count: Optional[int] = 1,
    ) -> int:
        """Hold the next `count` matching messages; returns a handle."""
    def release(self, handle: int) -> None:
        """Deliver what the hold holds, and end it."""
    def discard(self, handle: int) -> None:
        """Drop what the hold holds, and end it."""
    def held(self, handle: int) -> int: ...
    def inject_error(
        self,
        api: str,
        error: str,
        count: Optional[int] = 1,
        src: Optional[int] = None,
        dst: Optional[int] = None,
    ) -> int:
        """Replace the broker's answer to the next `count` `api` requests (None: all, until
        discard()) from src (a client) to dst (a broker) by `error`, a Kafka error name: the
        broker did its work, the client hears the error (a protocol fault proxy, KAFKA-21074).
        APIs: Produce, Fetch, ListOffsets, OffsetCommit, OffsetFetch, FindCoordinator,
        JoinGroup, SyncGroup, Heartbeat, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
        EndTxn. Returns a handle."""
    def reachable(self, src: int, dst: int) -> bool:
        """Whether a message from src to dst crosses no cut (partitions, isolations)."""
    def log(self, api: Optional[str] = None, src: Optional[int] = None, dst: Optional[int] = None) -> list[dict]:
        """Messages in the trace's kept window (its newest events), oldest first: dicts with
        at_ms, event ('send', 'deliver', 'drop', 'hold', 'release'), src, dst, api,
        direction ('request', 'response', 'oneway'), correlation (send and deliver; a response
        carries its request's) and reason (drop). A released request's answer is there."""
    def drop(
        self,
        src: Optional[int] = None,
        dst: Optional[int] = None,
        api: Optional[str] = None,
        direction: str = "request",
        count: Optional[int] = 1,
    ) -> int: ...
    def duplicate(
        self,
        src: Optional[int] = None,
        dst: Optional[int] = None,
        api: Optional[str] = None,
        direction: str = "request",
        count: Optional[int] = 1,
    ) -> int: ...
    def delay(
        self,
        src: Optional[int] = None,
        dst: Optional[int] = None,
        api: Optional[str] = None,
        direction: str = "request",
        count: Optional[int] = 1,
        extra_ms: int = 0,
    ) -> int: ...

# ---- checking ---------------------------------------------------------------------------------

class Anomaly:
    """One finding of the checkers."""

    @property
    def kind(self) -> str:
        """lost-write, duplicate, reorder, nonmonotonic-send, poll-skip, nonmonotonic-poll,
        aborted-read, uncommitted-read, divergence, multiple-leaders, split-ownership, exactly-once, ..."""
    @property
    def expected(self) -> bool:
        """Permitted by Kafka's contract under the run's config and faults (e.g. acks=1 loss)."""
    @property
    def cause(self) -> str:
        """Why it is expected ('' for a violation)."""
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offsets(self) -> list[int]: ...
    @property
    def records(self) -> list[str]:
        """The record values involved."""
    @property
    def ops(self) -> list[int]:
        """History operation ids involved."""
    @property
    def at_ms(self) -> float: ...
    @property
    def explanation(self) -> str:
        """A story a learner can follow."""

class Stats:
    """Run statistics; latencies in virtual milliseconds."""

    ops: int
    sends: int
    acked: int
    failed: int
    unknown: int
    polls: int
    records_polled: int
    commits: int
    lost: int
    duplicated: int
    send_latency_ms_p50: float
    send_latency_ms_p99: float
    send_latency_ms_max: float
    e2e_latency_ms_p50: float
    e2e_latency_ms_p99: float
    e2e_latency_ms_max: float

class Verdict:
    """The checkers' judgement of a run; str() is the human summary, bool() is .ok."""

    @property
    def ok(self) -> bool:
        """No violated promise (expected anomalies do not count)."""
    @property
    def anomalies(self) -> list[Anomaly]: ...
    @property
    def violations(self) -> list[Anomaly]: ...
    @property
    def expected(self) -> list[Anomaly]: ...
    @property
    def stats(self) -> Stats: ...
    def counts(self) -> dict[str, Tuple[int, int]]:
        """kind -> (violations, expected)."""
    def kinds(self) -> list[str]:
        """The anomaly kinds found (sorted)."""
    def __bool__(self) -> bool: ...

# ---- the simulation ---------------------------------------------------------------------------

class Simulation:
    """A simulated Kafka cluster on a virtual clock.

    Simulation(seed=1, brokers=3, controllers=0, config={}): brokers 1..N;
    controllers=K adds dedicated KRaft controllers N+1..N+K, otherwise the first
    min(3, N) brokers are also controllers. config: Kafka's broker keys and
    ksim's `ksim.*` switches; an unknown key raises ConfigError."""

    class Workload:
        """A running C++ workload (sim.workload)."""

        @property
        def producer_ids(self) -> list[int]: ...
        @property
        def consumer_ids(self) -> list[int]: ...
        @property
        def sent(self) -> int: ...
        @property
        def acked(self) -> int: ...
        @property
        def failed(self) -> int: ...
        @property
        def consumed(self) -> int: ...
        @property
        def producers_finished(self) -> bool: ...
        @property
        def transactions_committed(self) -> int: ...
        @property
        def transactions_aborted(self) -> int: ...
        def stop(self) -> None:
            """Stop every producer and consumer loop (the clients stay up)."""

    class Pipeline:
        """A running consume-transform-produce pipeline (sim.pipeline)."""

        @property
        def ids(self) -> list[int]:
            """The instances' client node ids (crash / restart them)."""
        @property
        def records_in(self) -> int: ...
        @property
        def commits(self) -> int: ...
        @property
        def aborts(self) -> int: ...
        @property
        def fenced(self) -> int: ...
        def stop(self) -> None:
            """Stop every instance's loop (the clients stay up)."""

    def __init__(
        self, seed: int = 1, brokers: int = 3, controllers: int = 0, config: Mapping[str, str] = {}
    ) -> None: ...
    @property
    def now(self) -> int:
        """Virtual time in milliseconds."""
    @property
    def seed(self) -> int: ...
    @property
    def network(self) -> Network:
        """Precise message scripting (hold / release / drop / delay / duplicate)."""
    # time
    def run_for(self, ms: int) -> None:
        """Advance the simulation by `ms` virtual milliseconds."""
    def run_until(self, predicate: Union[Callable[[], object], Callable[["Simulation"], object]],
                  timeout_ms: int = 60000) -> bool:
        """Run until predicate() holds (checked every 10 ms) or the timeout; returns whether it held.
        A predicate with a parameter gets the simulation: sim.run_until(lambda s: s.quiescent())."""
    def quiescent(self) -> bool:
        """Nothing left to settle: every partition led with a full ISR, every replica at the HW
        (client workloads may still be running)."""
    def ready(self) -> bool:
        """An active controller, every live broker registered and unfenced."""
    # admin
    def create_topic(
        self,
        name: str,
        partitions: int = -1,
        replication_factor: int = -1,
        config: Mapping[str, str] = {},
        assignment: Sequence[Sequence[int]] = [],
    ) -> None:
        """CreateTopics to the active controller; waits until every partition has a leader."""
    def describe_topic(self, name: str) -> list[PartitionInfo]: ...
    def wait_for_leader(self, topic: str, partition: int = 0, timeout_ms: int = 30000) -> Optional[int]:
        """Run until the partition has a leader that knows it leads; returns it (None after the timeout)."""
    def describe(self, topic: str) -> str:
        """kafka-topics.sh --describe style text."""
    def topics(self) -> list[str]: ...
    def active_controller(self) -> Optional[int]: ...
    def metrics(self) -> dict[str, float]:
        """Kafka's metric names: UnderReplicatedPartitions, OfflinePartitionsCount, IsrShrinksPerSec, ..."""
    def metrics_history(self) -> list[Tuple[int, dict[str, float]]]:
        """The metrics sampled every second of virtual time, as a step function: (ms, {name: value}) for
        the first sample and every sample that differs from the previous one; each holds until the next
        (the last until now). At most 4,096 entries: the newest 2,048 exact, older ones thinned."""
    def elect_leaders(self, unclean: bool = False, partitions: Sequence[Tuple[str, int]] = []) -> None: ...
    def alter_topic_config(self, topic: str, key: str, value: Optional[str]) -> None: ...
    def alter_client_quotas(
        self, entity: dict[str, Optional[str]], quotas: dict[str, Optional[float]]
    ) -> None:
        """Admin.alterClientQuotas (KIP-546): entity {"client-id": "noisy"} ({"client-id": None}: the
        default; "user": always ANONYMOUS in ksim), quotas {"producer_byte_rate": 100_000,
        "consumer_byte_rate": ...} in bytes/s, None removes a key. ClusterError INVALID_REQUEST names a
        bad entity type, key or value."""
    def describe_client_quotas(self) -> list[Tuple[dict[str, Optional[str]], dict[str, float]]]:
        """Admin.describeClientQuotas: every (entity, quotas) in the metadata."""
    def create_partitions(self, topic: str, count: int) -> None:
        """Grow a topic to `count` partitions (kafka-topics --alter --partitions); Kafka never shrinks one."""
    def produce(
        self, topic: str, partition: int, values: Sequence[str], acks: str = "all", timeout_ms: int = 30000
    ) -> dict[str, object]:
        """A raw Produce request of one batch; returns {'error', 'offset', 'leader'}."""
    def log(self, broker: int, topic: str, partition: int) -> list[Tuple[int, bytes]]:
        """(offset, value) of every record a broker holds (none if it is not a replica).
        Raises ClusterError for an unknown topic-partition or a broker that is down."""
    def dump_log(self, broker: int, topic: str, partition: int) -> str:
        """kafka-dump-log --print-data-log style text of a live broker's replica."""
    # clients
    def producer(
        self,
        conf: Mapping[str, object] = {},
        partitioner: Optional[Callable[[Optional[bytes], int], int]] = None,
        on_delivery: Optional[DeliveryCallback] = None,
    ) -> Producer:
        """A Producer on a new client node. conf: Kafka's producer keys (values
        str/int/bool; 'bootstrap.servers' is accepted and ignored; 'on_delivery'
        may be given in conf as in confluent-kafka). An unknown key or an invalid
        combination (enable.idempotence=true with acks=1) raises ConfigError
        naming the key. partitioner(key, partition_count) -> partition."""
    def consumer(
        self, conf: Mapping[str, object] = {}, on_commit: Optional[CommitCallback] = None
    ) -> Consumer:
        """A Consumer on a new client node. conf: Kafka's consumer keys (group.id,
        auto.offset.reset, enable.auto.commit, isolation.level, ...; 'on_commit'
        may be given in conf as in confluent-kafka)."""
    def describe_transaction(self, transactional_id: str) -> dict:
        """kafka-transactions.sh describe: state, producer_id, producer_epoch, partitions, coordinator."""
    def describe_group(self, group_id: str) -> GroupDescription:
        """A consumer group as its coordinator holds it, with committed offsets and lag."""
    def workload(
        self,
        topic: str,
        producers: Union[int, Sequence[Union[Producer, int]]] = 1,
        consumers: Union[int, Sequence[Union[Consumer, int]]] = 0,
        rate_per_s: float = 1000.0,
        duration_ms: Optional[int] = None,
        producer_config: Mapping[str, str] = {},
        consumer_config: Mapping[str, str] = {},
        key_space: int = 0,
        value_bytes: int = 0,
        commit: str = "auto",
        processing_us_per_record: int = 0,
        name: str = "workload",
        transaction_records: int = 10,
        abort_probability: float = 0.0,
    ) -> "Simulation.Workload":
        """Drive a topic from C++ (fast): counts of new clients or existing
        Producer/Consumer objects; everything is recorded for sim.check().
        With producer_config transactional.id ("<id>-<i>" per producer):
        transactions of transaction_records records, aborted with abort_probability
        (after their records were flushed: the log holds the aborted data)."""
    def pipeline(
        self,
        input_topic: str,
        output_topic: str,
        instances: int = 2,
        consumer_config: Mapping[str, str] = {},
        producer_config: Mapping[str, str] = {},
        transactional: bool = True,
        abort_probability: float = 0.0,
        rewind_after_abort: bool = True,
        name: str = "pipeline",
    ) -> "Simulation.Pipeline":
        """Kafka's exactly-once consume-transform-produce application; sim.check() judges
        `exactly-once` (each committed input has one committed output)."""
    # faults
    def crash(self, broker: int) -> None:
        """Crash a node (broker, controller or client): its process state is lost, its disk survives."""
    def shutdown(self, broker: int, timeout_ms: int = 30000) -> bool:
        """Controlled shutdown: leaderships move away first, logs are flushed, then the node stops."""
    def rolling_restart(self, controlled: bool = True, timeout_ms: int = 60000) -> bool:
        """Restart every broker in turn, waiting for a full ISR after each."""
    def restart(self, broker: int) -> None:
        """Start a node that is down; a running node is crashed first (kill -9 and start)."""
    def power_fail(self, broker: int, torn: bool = False) -> None:
        """A crash that also loses unsynced disk data (torn: a random prefix of it survives)."""
    def wipe(self, node: int) -> None:
        """The node restarts on a new, empty disk (a replaced drive, re-formatted): logs, checkpoints, quorum-state and clean-shutdown file are gone, and it has a new directory id (KIP-853)."""
    def replace_disk(self, node: int) -> None:
        """Same as wipe(node): an operator replacing a failed drive."""
    def add_voter(self, node: int, timeout_ms: int = 30000) -> int:
        """KIP-853 add-controller: the quorum leader adds controller `node` (with its current disk's directory id) to the voter set; runs until the VotersRecord commits and returns its offset. KsimError: DUPLICATE_VOTER, REQUEST_TIMED_OUT (change pending, node not a caught-up observer, no commit in time), UNSUPPORTED_VERSION, NOT_CONTROLLER."""
    def remove_voter(self, node: int, directory_id: Optional[str] = None, timeout_ms: int = 30000) -> int:
        """KIP-853 remove-controller: the quorum leader removes voter (node, directory_id; default the one the voter set names); runs until the VotersRecord commits and returns its offset. A leader removing itself resigns once it commits. KsimError: VOTER_NOT_FOUND, REQUEST_TIMED_OUT, UNSUPPORTED_VERSION, NOT_CONTROLLER."""
    def describe_quorum(self) -> dict[str, object]:
        """kafka-metadata-quorum describe --status/--replication from the raft leader's view: leader_id, leader_epoch, high_watermark, voters and observers (id, directory_id, log_end_offset; -1: unknown)."""
    def is_up(self, node: int) -> bool:
        """Whether a node is running (not crashed, stopped, or halted by a failed log dir); paused counts as up."""
    def pause(self, broker: int, ms: int) -> None:
        """Freeze a node for `ms` (SIGSTOP / a long GC pause)."""
    def cut(self, groups: Sequence[Sequence[int]]) -> None:
        """Add these groups' cuts to the current ones (partition() replaces them; heal() removes all)."""
    def partition(self, groups: Sequence[Sequence[int]]) -> None:
        """Split the network into exactly these groups of node ids, replacing earlier cuts
        (nodes in no group reach everyone)."""
    def isolate(self, broker: int) -> None: ...
    def heal(self) -> None:
        """Heal every network partition."""
    def slow_disk(self, broker: int, factor: float) -> None: ...
    def disk_full(self, broker: int, full: bool = True) -> None: ...
    def disk_stall(self, broker: int, stalled: bool = True) -> None: ...
    def check_invariants(self, logs: bool = True) -> list[str]:
        """Violated cluster invariants (empty when all hold)."""
    def trace_hash(self) -> str:
        """Hex digest of the run's event trace: same seed and script, same hash."""
    def probes(self) -> dict[str, int]:
        """Coverage probes: name -> how often that rare path ran so far (FoundationDB's CODE_PROBE).
        Every probe name in the engine's source is listed by ksim.sweep.probe_catalog()."""
    # checking and export
    def check(
        self,
        heal: bool = True,
        converge_timeout_ms: int = 60000,
        full_read: bool = False,
        unseen_is_violation: bool = False,
    ) -> Verdict:
        """Judge the run: heal every fault, let the cluster converge, run every checker."""
    def converged(self) -> bool: ...
    def heal_all(self) -> None:
        """Stop every fault: heal the network, restart crashed nodes, recover disks."""
    def start_nemesis(self, kinds: Sequence[str], interval_ms: int = 2000, max_active: int = 1) -> None: ...
    def stop_nemesis(self) -> None: ...
    def export(self, path: str, scenario: Optional[str] = None, seed: Optional[int] = None) -> None:
        """Write the run to a SQLite trace store (read it with pandas, `ksim describe`, `ksim report`)."""
    @property
    def last_verdict(self) -> Optional[Verdict]: ...
    @property
    def nemesis_log(self) -> list[str]: ...
