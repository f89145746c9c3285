"""The standard workload of issue 13's benchmarks, ready to run.

    from standard_workload import standard_sim   # with bench/ on sys.path

Used by bench/nemesis.py's seed processes, bench/memory.py's soak and
bench/determinism.py's story. A module of its own, importing nothing but ksim:
a nemesis seed is a whole process, and the determinism tool's own imports
(multiprocessing, argparse, subprocess: ~10 ms) are no part of what a seed of
a ksim sweep costs.
"""


def standard_sim(seed, nemesis_interval_ms=None):
    """3 brokers + 1 controller, 6 partitions RF=3 with min.insync.replicas=2, an
    idempotent acks=all producer at 1,000 records/s, a group of 3 consumers; with
    nemesis_interval_ms, a crash / partition / pause / power failure started or
    ended that often. Returns (simulation, workload)."""
    import ksim
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("t", partitions=6, replication_factor=3)
    w = sim.workload("t", producers=1, consumers=3, rate_per_s=1000,
                     producer_config={"acks": "all", "enable.idempotence": "true"},
                     consumer_config={"group.id": "g", "auto.offset.reset": "earliest"})
    if nemesis_interval_ms:
        sim.nemesis(ksim.nemesis.Random(kinds=["crash", "partition", "pause", "power_fail"],
                                        interval_ms=nemesis_interval_ms))
    return sim, w
