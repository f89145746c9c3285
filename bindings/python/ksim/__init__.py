"""ksim — a deterministic simulator of an Apache Kafka cluster and a fault-injection lab.

    import ksim
    sim = ksim.Simulation(seed=7, brokers=3, config={"min.insync.replicas": "2"})
    sim.create_topic("orders", partitions=3, replication_factor=3)
    sim.produce("orders", 0, ["m0"], acks="all")
    sim.crash(sim.describe_topic("orders")[0].leader)
    sim.run_for(10_000)
    print(sim.describe("orders"))
    print(sim.trace_hash())

Clients, shaped like confluent-kafka-python (each on a client node of its own,
so sim.crash(p.id) kills it like a JVM):

    p = sim.producer({"acks": "all", "linger.ms": 5})
    p.produce("orders", value=b"v", key=b"k", on_delivery=lambda err, msg: ...)
    p.flush(timeout_ms=5_000)          # runs the simulation; serves on_delivery
    c = sim.consumer({"group.id": "billing", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"], on_assign=lambda consumer, partitions: ...)
    msg = c.poll(timeout_ms=1_000)     # a ksim.Message or None
    c.commit(msg)
    print(sim.describe_group("billing"))

Every error is a subclass of ksim.KsimError: ConfigError (its .key names the
bad configuration key), ClusterError (its .error is Kafka's error name, e.g.
"TOPIC_ALREADY_EXISTS"), KafkaException (a client call failed as Kafka's client
fails: args[0] is a KafkaError, .kind the Java exception class), ArgumentError
(a bad argument value; also a ValueError, as confluent-kafka raises),
ArgumentTypeError (a bad argument type ksim checks; also a TypeError), or
KsimError itself for misuse of the simulation (a crashed or closed client, ...).
Arguments pybind11 cannot convert at all (a str where an int is expected) are a
plain TypeError naming the accepted signature.
"""

from ._ksim import (  # noqa: F401  (re-exported)
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    Anomaly,
    ArgumentError,
    ArgumentTypeError,
    ClusterError,
    ConfigError,
    Consumer,
    GroupDescription,
    GroupMember,
    KafkaError,
    ConsumerGroupMetadata,
    KafkaException,
    KsimError,
    Message,
    Network,
    PartitionInfo,
    Producer,
    ReplicaState,
    Simulation as _Simulation,
    Stats,
    TopicPartition,
    Verdict,
)
from ._ksim import __version__  # noqa: F401
from . import nemesis  # noqa: F401

_last_simulation = None


def _config_strings(config):
    """A broker config dict as Kafka's string map, taking values as the clients' conf does.

    {"min.insync.replicas": 2, "unclean.leader.election.enable": False} means
    what it says (numbers as text, bools as true/false), as in sim.producer();
    any other value type is a ConfigError naming the key, not pybind11's
    "incompatible constructor arguments"."""
    if config is None:
        return {}
    if not hasattr(config, "items"):
        raise ArgumentTypeError(f"Simulation(): config is a dict of Kafka keys to values, not {type(config).__name__}")
    out = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"Simulation(): configuration keys are strings, not {type(key).__name__}")
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        else:
            err = ConfigError(f"Invalid value of type {type(value).__name__} for configuration {key}: "
                              "expected a string, number or bool")
            err.key = key
            raise err
    return out


class Simulation(_Simulation):
    __doc__ = _Simulation.__doc__

    def __init__(self, seed=1, brokers=3, controllers=0, config=None):
        super().__init__(seed=seed, brokers=brokers, controllers=controllers, config=_config_strings(config))
        global _last_simulation
        _last_simulation = self  # what `ksim run --out` exports after the scenario returns


def last_simulation():
    """The Simulation most recently created in this process (None before one)."""
    return _last_simulation


def _attach_nemesis(self, n):
    """Attach a nemesis (e.g. ksim.nemesis.Random(...)): it runs on the virtual clock until check()."""
    n.attach(self)
    return n


Simulation.nemesis = _attach_nemesis

__all__ = [
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_INVALID",
    "OFFSET_STORED",
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_LOG_APPEND_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "Anomaly",
    "ArgumentError",
    "ArgumentTypeError",
    "ClusterError",
    "ConfigError",
    "Consumer",
    "GroupDescription",
    "GroupMember",
    "KafkaError",
    "ConsumerGroupMetadata",
    "KafkaException",
    "KsimError",
    "Message",
    "Network",
    "PartitionInfo",
    "Producer",
    "ReplicaState",
    "Simulation",
    "Stats",
    "TopicPartition",
    "Verdict",
    "last_simulation",
    "main",
    "nemesis",
]


def main(scenario):
    """Run a scenario file by itself: `python3 file.py [--seed N] [--out DIR]`.

    Prints the story (the scenario's docstring), the checkers' verdict of the
    last check(), writes the trace store to DIR/<scenario>-<seed>.db with
    --out, and exits 0 iff the scenario returned True (what happened is what
    the story expects)."""
    import argparse
    import os
    import sys

    module = sys.modules.get(scenario.__module__)
    story = (getattr(module, "__doc__", None) or scenario.__doc__ or "a ksim scenario").strip()
    parser = argparse.ArgumentParser(description=story)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.environ.get("KSIM_OUT"), help="directory for the run's trace store")
    parser.add_argument("--quiet", action="store_true", help="print only the result line")
    args = parser.parse_args()
    if not args.quiet:
        print(story)
        print()
    ok = bool(scenario(args.seed))
    sim = last_simulation()
    if sim is not None and not args.quiet:
        v = sim.last_verdict
        print(str(v) if v is not None else "(the scenario did not call check())")
    if args.out and sim is not None:
        os.makedirs(args.out, exist_ok=True)
        name = os.path.splitext(os.path.basename(getattr(module, "__file__", None) or "scenario"))[0]
        path = os.path.join(args.out, f"{name}-{args.seed}.db")
        sim.export(path, scenario=getattr(module, "__file__", name), seed=args.seed)
        print(f"trace store: {path}")
    print(f"seed={args.seed} result={'as expected' if ok else 'NOT as expected'}")
    sys.exit(0 if ok else 1)
