"""Shrunk by `ksim shrink` from ksim hunt seed 2982 (every fix on): duplicate.

Faults 2 -> 1, records ~8000 -> ~3819, 14 runs in 0.3 s.

`story(BUG)` runs the schedule below and the checkers report `duplicate`;
`story({})` runs it on the fixed engine. `ksim run` exits 1 while the anomaly
reproduces. The run is this file's own (seed 2982): ksim run's --seed is not used.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'duplicate'


def story(config):
    sim = ksim.Simulation(seed=2982, brokers=3, controllers=1, config=config)
    sim.create_topic('hunt', partitions=4, replication_factor=2, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=400,
                 duration_ms=9548,
                 key_space=16,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '2', 'linger.ms': '20', 'delivery.timeout.ms': '15000', 'request.timeout.ms': '2000'})
    at(sim, 548); sim.disk_stall(3)  # fault 1: disk_stall
    at(sim, 8548); sim.disk_stall(3, False)  # fault 1: disk_stall ends
    at(sim, 9548)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
