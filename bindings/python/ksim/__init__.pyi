"""ksim — a deterministic simulator of an Apache Kafka cluster and a fault-injection lab.

    import ksim
    sim = ksim.Simulation(seed=7, brokers=3, config={"min.insync.replicas": "2"})
    sim.create_topic("orders", partitions=3, replication_factor=3)
    p = sim.producer({"acks": "all"})
    p.produce("orders", value=b"v", key=b"k", on_delivery=lambda err, msg: ...)
    p.flush(timeout_ms=5_000)
    c = sim.consumer({"group.id": "billing", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    msg = c.poll(timeout_ms=1_000)
    sim.crash(sim.describe_topic("orders")[0].leader)
    print(sim.check())

Every error derives from KsimError: ConfigError (.key), ClusterError (.error),
KafkaException (args[0] a KafkaError, .kind the Java exception class).
"""
from typing import Callable, Mapping, Optional

from . import nemesis as nemesis
from ._ksim import __version__ as __version__
from ._ksim import (
    OFFSET_BEGINNING as OFFSET_BEGINNING,
    OFFSET_END as OFFSET_END,
    OFFSET_INVALID as OFFSET_INVALID,
    OFFSET_STORED as OFFSET_STORED,
    TIMESTAMP_CREATE_TIME as TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME as TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE as TIMESTAMP_NOT_AVAILABLE,
    Anomaly as Anomaly,
    ArgumentError as ArgumentError,
    ArgumentTypeError as ArgumentTypeError,
    ClusterError as ClusterError,
    ConfigError as ConfigError,
    Consumer as Consumer,
    GroupDescription as GroupDescription,
    GroupMember as GroupMember,
    KafkaError as KafkaError,
    ConsumerGroupMetadata as ConsumerGroupMetadata,
    KafkaException as KafkaException,
    KsimError as KsimError,
    Message as Message,
    Network as Network,
    PartitionInfo as PartitionInfo,
    Producer as Producer,
    ReplicaState as ReplicaState,
    Stats as Stats,
    TopicPartition as TopicPartition,
    Verdict as Verdict,
)
from ._ksim import Simulation as _Simulation

class Simulation(_Simulation):
    """A simulated Kafka cluster on a virtual clock (see ksim._ksim.Simulation).

    Creating one makes it ksim.last_simulation(), which `ksim run --out` exports."""

    def __init__(
        self, seed: int = 1, brokers: int = 3, controllers: int = 0, config: Optional[Mapping[str, str]] = None
    ) -> None: ...
    def nemesis(self, n: nemesis.Random) -> nemesis.Random:
        """Attach a nemesis (e.g. ksim.nemesis.Random(...)): it runs on the virtual clock until check()."""

def last_simulation() -> Optional[Simulation]:
    """The Simulation most recently created in this process (None before one)."""

def main(scenario: Callable[[int], bool]) -> None:
    """Run a scenario file by itself: `python3 file.py [--seed N] [--out DIR] [--quiet]`.

    Prints the story (the module docstring) and the verdict of the last check(),
    writes DIR/<scenario>-<seed>.db with --out, exits 0 iff scenario(seed) returned True."""
