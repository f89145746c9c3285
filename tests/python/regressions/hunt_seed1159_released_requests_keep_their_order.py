"""Regression found by `ksim hunt` (seed 1159, every fix on), shrunk by `ksim shrink`: `nonmonotonic-send`.

An idempotent producer's Produce requests are held in the network for 28 s
(the nemesis' produce_late). On release the simulated network gave each
held message its own latency, so the three requests reached the leader in
reverse order and the third batch (a producer id the broker had no state for
takes any first sequence, as in Kafka) landed before the first two. On a
real cluster the requests share one TCP connection and the broker handles
one request per connection at a time: a stalled stream resumes in order.
Released messages of one connection now keep their send order.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'nonmonotonic-send'


def story(config):
    sim = ksim.Simulation(seed=1159, brokers=5, controllers=1, config=dict({'replica.lag.time.max.ms': '2000', 'broker.session.timeout.ms': '4500', 'broker.heartbeat.interval.ms': '1000', 'leader.imbalance.check.interval.seconds': '5', 'log.cleaner.backoff.ms': '2000', 'log.cleaner.dedupe.buffer.size': '240'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false', 'cleanup.policy': 'compact,delete', 'segment.bytes': '1500', 'min.cleanable.dirty.ratio': '0.5'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=50,
                 duration_ms=30_000,
                 key_space=64,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '3', 'linger.ms': '5', 'delivery.timeout.ms': '30005', 'request.timeout.ms': '30000'})
    at(sim, 690); h1 = sim.network.hold(src=w.producer_ids[0], dst=None, api='Produce', direction='request', count=None)  # fault 1: produce_late
    at(sim, 30_000); sim.network.release(h1)  # fault 1: produce_late ends
    at(sim, 30_000)
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
