"""Regression found by `ksim hunt` (seed 8193, every fix on), shrunk by `ksim shrink`: `liveness`, a false alarm.

No faults at all: a compacted topic with 1500-byte segments (about 15 batches
each), 16 keys, a cleaner waking every 500 ms. The cleaner cleaned every
segment into a segment of its own, so the log kept every segment it ever
rolled, most of them emptied, and each pass rewrote and fsynced all of them
(three fsyncs a segment) holding the log's lock. Appends and follower fetches
waited behind the passes, the followers fell behind replica.lag.time.max.ms
again and again, and 60 s after the heal the ISR was still {2,1}. Kafka's
cleaner groups consecutive segments whose sizes together fit in segment.bytes
into one cleaned segment (Cleaner.groupSegmentsBySize), so emptied segments
merge and a pass stays short; ksim now does the same.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'liveness'


def story(config):
    sim = ksim.Simulation(seed=8193, brokers=3, controllers=1, config=dict({'replica.lag.time.max.ms': '2000', 'broker.session.timeout.ms': '3000', 'broker.heartbeat.interval.ms': '1000', 'leader.imbalance.check.interval.seconds': '5', 'log.cleaner.backoff.ms': '500', 'log.cleaner.dedupe.buffer.size': '240'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false', 'cleanup.policy': 'compact', 'segment.bytes': '1500', 'min.cleanable.dirty.ratio': '0.5'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=400,
                 duration_ms=20_000,
                 key_space=16,
                 producer_config={'acks': '0', 'enable.idempotence': 'false', 'max.in.flight.requests.per.connection': '5', 'linger.ms': '0', 'delivery.timeout.ms': '3000', 'request.timeout.ms': '2000'})
    at(sim, 20_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
