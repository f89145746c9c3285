"""Regression found by `ksim hunt` (seed 4780, every fix on), shrunk by `ksim shrink`: `exactly-once`.

Transactional producers (TV2) under slow disks, rolling restarts and held
Fetch responses: committed transactions' records were missing from the
final log's committed data. Same root cause as seed 3206: a COMMIT marker
retried by the coordinator was refused as stale by the leader holding its
unreplicated first copy, the coordinator dropped it, and a leader change
truncated that copy. A retried TV2 marker is now answered as written once
replicated (KAFKA-19999); the probe "broker: TV2 marker retry answered as
written" fires 6 times in this run.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'exactly-once'


def story(config):
    sim = ksim.Simulation(seed=4780, brokers=5, controllers=3, config=config)
    sim.create_topic('hunt', partitions=3, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'true'})
    w = sim.workload('hunt', producers=2,
                 consumers=1,
                 rate_per_s=400,
                 duration_ms=30_000,
                 key_space=16,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '1', 'linger.ms': '0', 'delivery.timeout.ms': '5000', 'request.timeout.ms': '2000', 'transactional.id': 'hunt-tx'},
                 consumer_config={'partition.assignment.strategy': 'cooperative-sticky', 'session.timeout.ms': '6000', 'heartbeat.interval.ms': '1000', 'isolation.level': 'read_committed'},
                 commit='sync',
                 transaction_records=10,
                 abort_probability=0.0)
    at(sim, 1566); h1 = sim.network.drop(src=w.consumer_ids[0], dst=None, api='Heartbeat', direction='request', count=None)  # fault 1: zombie
    at(sim, 4284); sim.slow_disk(1, 100.0)  # fault 2: slow_disk
    at(sim, 12_284); sim.slow_disk(1, 1.0)  # fault 2: slow_disk ends
    at(sim, 12_600); sim.rolling_restart(controlled=True)  # fault 3: rolling_restart
    at(sim, 13_566); sim.network.release(h1)  # fault 1: zombie ends
    at(sim, 15_929); sim.slow_disk(1, 20.0)  # fault 4: slow_disk
    at(sim, 22_799); sim.slow_disk(4, 5.0)  # fault 5: slow_disk
    at(sim, 23_929); sim.slow_disk(1, 1.0)  # fault 4: slow_disk ends
    at(sim, 24_197); sim.shutdown(2)  # fault 6: shutdown
    at(sim, 25_197); sim.restart(2)  # fault 6: shutdown ends
    at(sim, 25_799); sim.slow_disk(4, 1.0)  # fault 5: slow_disk ends
    at(sim, 26_271); h3 = sim.network.hold(src=4, dst=None, api='Fetch', direction='response', count=None)  # fault 7: starve
    at(sim, 26_813); sim.rolling_restart(controlled=True)  # fault 8: rolling_restart
    at(sim, 27_203); sim.network.release(h3)  # fault 7: starve ends
    at(sim, 30_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
