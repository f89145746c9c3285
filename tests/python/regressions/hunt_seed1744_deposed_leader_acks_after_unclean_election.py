"""Regression found by `ksim hunt` (seed 1744, every fix on), shrunk by `ksim shrink`: `lost-write`, a false alarm.

hunt-0's ISR shrank to {1} (min.insync.replicas=1, unclean elections
allowed). Broker 1 was paused for 3 s, fenced, and broker 2 elected
uncleanly (epoch 1). Back from the pause, broker 1 still believed itself the
epoch-0 leader with the ISR {1}: it acknowledged acks=all writes alone until
the new metadata reached it, then truncated them as broker 2's follower.
Kafka does the same (no leader leases). The losses are the unclean
election's, although it came before the acknowledgements: it ended the
acknowledging leader's epoch. The fault model called them violations
because it counted only unclean elections after the acknowledgement.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'lost-write'


def story(config):
    sim = ksim.Simulation(seed=1744, brokers=3, controllers=1, config=dict({'replica.lag.time.max.ms': '2000', 'log.cleaner.backoff.ms': '500', 'log.cleaner.dedupe.buffer.size': '600'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true', 'cleanup.policy': 'compact', 'segment.bytes': '4000', 'min.cleanable.dirty.ratio': '0.1'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=50,
                 duration_ms=24_585,
                 key_space=16,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '1', 'linger.ms': '0', 'delivery.timeout.ms': '30000', 'request.timeout.ms': '30000'})
    at(sim, 2211); sim.disk_full(2)  # fault 1: disk_full
    at(sim, 2711); sim.disk_full(2, False)  # fault 1: disk_full ends
    at(sim, 2711); sim.restart(2)  # fault 1: disk_full ends
    at(sim, 3714); sim.isolate(3)  # fault 2: partition
    at(sim, 10_702); h4 = sim.network.drop(src=1, dst=None, api=None, direction='any', count=None)  # fault 3: one_way
    at(sim, 11_714); sim.heal()  # fault 2: partition ends
    at(sim, 15_041); h6 = sim.network.drop(src=3, dst=None, api=None, direction='any', count=None)  # fault 4: one_way
    at(sim, 17_056); sim.isolate(1)  # fault 5: partition
    at(sim, 17_131); sim.heal()  # fault 5: partition ends
    at(sim, 18_041); sim.network.release(h6)  # fault 4: one_way ends
    at(sim, 18_062); sim.pause(1, 3000)  # fault 6: pause
    at(sim, 18_702); sim.network.release(h4)  # fault 3: one_way ends
    at(sim, 20_585); sim.isolate(3)  # fault 7: partition
    at(sim, 20_772); sim.heal()  # fault 7: partition ends
    at(sim, 24_585)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
