"""Regression found by `ksim hunt` (seed 1411, correct engine), shrunk by `ksim shrink`: `duplicate`, judged wrongly.

The idempotent producer's first Produce request (sequence 0) was dropped and
the next (sequence 1) reached leader 3, which had no state for the producer
and took it as its first batch at offset 0 (Kafka accepts any sequence from
a producer it does not know). It was never acknowledged: broker 1's disk
stalled, broker 3 lost it to a power failure, and brokers 4 and 1 kept it.
When sequence 0 was retried, leader 1 answered OUT_OF_ORDER_SEQUENCE_NUMBER;
sequence 0 was the one after the producer's last acknowledged sequence, so
the producer bumped its epoch (KIP-360) and resent every in-flight batch from
sequence 0 under epoch 1, as Kafka's TransactionManager does
(bumpIdempotentProducerEpoch -> startSequencesAtBeginning). Record 1 is at
offset 0 (epoch 0) and offset 2 (epoch 1): Kafka writes it twice too; the
broker deduplicates within a producer epoch only. The checker now classes a
duplicate whose copies are in different epochs of an idempotent producer as
expected, with that cause; copies in one epoch stay a violation.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'duplicate'


def story(config):
    sim = ksim.Simulation(seed=1411, brokers=4, controllers=1, config=dict({'replica.lag.time.max.ms': '2000', 'leader.imbalance.check.interval.seconds': '5', 'log.cleaner.backoff.ms': '500', 'log.cleaner.dedupe.buffer.size': '600'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false', 'cleanup.policy': 'compact', 'segment.bytes': '4000', 'min.cleanable.dirty.ratio': '0.5'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=100,
                 duration_ms=15_000,
                 key_space=64,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '5', 'linger.ms': '5', 'delivery.timeout.ms': '30005', 'request.timeout.ms': '30000'})
    at(sim, 703); h1 = sim.network.drop(src=w.producer_ids[0], dst=None, api='Produce', direction='request', count=1)  # fault 1: msg
    at(sim, 1333); sim.disk_stall(1)  # fault 2: disk_stall
    at(sim, 1596); sim.network.release(h1)  # fault 1: msg ends
    at(sim, 3682); sim.power_fail(3, torn=False)  # fault 3: power_fail
    at(sim, 3869); sim.restart(3)  # fault 3: power_fail ends
    at(sim, 4833); sim.disk_stall(1, False)  # fault 2: disk_stall ends
    at(sim, 7833); sim.crash(4)  # fault 4: crash
    at(sim, 8145); sim.restart(4)  # fault 4: crash ends
    at(sim, 15_000)
    final = sim.workload('hunt', producers=0, consumers=1, duration_ms=8_000, name='final-read', consumer_config={'auto.offset.reset': 'earliest', 'isolation.level': 'read_uncommitted'})  # the final read
    sim.run_for(10_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
