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
    Anomaly,
    ClusterError,
    ConfigError,
    KsimError,
    Network,
    PartitionInfo,
    ReplicaState,
    Simulation as _Simulation,
    Stats,
    Verdict,
)
from . import nemesis  # noqa: F401

_last_simulation = None


class Simulation(_Simulation):
    __doc__ = _Simulation.__doc__

    def __init__(self, seed=1, brokers=3, controllers=0, config=None):
        super().__init__(seed=seed, brokers=brokers, controllers=controllers, config=dict(config or {}))
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
    "Anomaly",
    "ClusterError",
    "ConfigError",
    "KsimError",
    "Network",
    "PartitionInfo",
    "ReplicaState",
    "Simulation",
    "Stats",
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
