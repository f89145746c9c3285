"""ksim — a deterministic simulator of an Apache Kafka cluster and a fault-injection lab.

    import ksim
    sim = ksim.Simulation(seed=7, brokers=3, config={"min.insync.replicas": "2"})
    sim.create_topic("orders", partitions=3, replication_factor=3)
    sim.produce("orders", 0, ["m0"], acks="all")
    sim.crash(sim.describe_topic("orders")[0].leader)
    sim.run_for(10_000)
    print(sim.describe("orders"))
    print(sim.trace_hash())

Every error is a subclass of ksim.KsimError: ConfigError (its .key names the
bad configuration key), ClusterError (its .error is Kafka's error name, e.g.
"TOPIC_ALREADY_EXISTS"), or KsimError itself for misuse of the simulation.
"""

from ._ksim import (  # noqa: F401  (re-exported)
    ClusterError,
    ConfigError,
    KsimError,
    Network,
    PartitionInfo,
    ReplicaState,
    Simulation,
)

__all__ = [
    "ClusterError",
    "ConfigError",
    "KsimError",
    "Network",
    "PartitionInfo",
    "ReplicaState",
    "Simulation",
    "main",
]


def main(scenario):
    """Run a scenario file by itself: `python3 file.py [--seed N]`; exit 0 iff it returned True."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=(scenario.__doc__ or "a ksim scenario").strip())
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ok = bool(scenario(args.seed))
    print(f"seed={args.seed} result={'as expected' if ok else 'NOT as expected'}")
    sys.exit(0 if ok else 1)
