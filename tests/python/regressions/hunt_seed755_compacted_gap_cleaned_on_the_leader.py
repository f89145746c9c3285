"""Regression found by `ksim hunt` (seed 755, every fix on), shrunk by `ksim shrink`: `poll-skip`, a false alarm.

A compacted topic (4 keys). The final read started at offset 0 and the
leader's first record was at 2859: its cleaner had removed everything before
it, every record superseded by a later one of its key. The final log the
checker judges against came from another replica, which had cleaned less
and still held 2843. Every Kafka broker runs its own log cleaner, so replicas
of a compacted partition hold different subsets of the superseded records;
a consumer skipping a record the replica it read may have cleaned (a later
record of its key below the fetch's high watermark) skips nothing.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'poll-skip'


def story(config):
    sim = ksim.Simulation(seed=755, brokers=3, controllers=3, config=dict({'replica.lag.time.max.ms': '30000', 'broker.session.timeout.ms': '4500', 'broker.heartbeat.interval.ms': '1000', 'leader.imbalance.check.interval.seconds': '5', 'log.cleaner.backoff.ms': '500', 'log.cleaner.dedupe.buffer.size': '240'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false', 'cleanup.policy': 'compact', 'segment.bytes': '16000', 'min.cleanable.dirty.ratio': '0.1'})
    w = sim.workload('hunt', producers=2,
                 consumers=1,
                 rate_per_s=200,
                 duration_ms=15_000,
                 key_space=4,
                 producer_config={'acks': '0', 'enable.idempotence': 'false', 'max.in.flight.requests.per.connection': '4', 'linger.ms': '20', 'delivery.timeout.ms': '5000', 'request.timeout.ms': '2000'},
                 consumer_config={'partition.assignment.strategy': 'cooperative-sticky', 'session.timeout.ms': '45000', 'heartbeat.interval.ms': '1000'},
                 commit='async')
    at(sim, 4112); h1 = sim.network.drop(src=None, dst=2, api='MetadataFetch', direction='response', count=None)  # fault 1: stale_metadata
    at(sim, 8722); sim.shutdown(2)  # fault 2: shutdown
    at(sim, 9722); sim.restart(2)  # fault 2: shutdown ends
    at(sim, 15_000); sim.network.release(h1)  # fault 1: stale_metadata ends
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
