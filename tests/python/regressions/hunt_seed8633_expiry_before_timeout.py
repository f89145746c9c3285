"""Regression found by `ksim hunt` (seed 8633, every fix on), shrunk by `ksim shrink`: `duplicate`.

The producer's request.timeout.ms equals its delivery.timeout.ms (30 s,
linger 0), and a rolling restart leaves a Produce request unanswered. Its
request timeout and its batch's delivery deadline fall on the same
millisecond. Kafka's Sender expires due in-flight batches (sendProducerData)
before it handles the responses of that instant, so the batch is expired:
outcome unknown, sequences untouched. ksim handled the timeout first and
failed the batch "with retries left", which asks for an epoch bump
(KIP-360) and renumbers the batches behind it: one of them, already in the
log under the old epoch, was written again under the new one. Now a batch
whose delivery deadline has come is expired whatever reply arrives with it.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'duplicate'


def story(config):
    sim = ksim.Simulation(seed=8633, brokers=5, controllers=1, config=config)
    sim.create_topic('hunt', partitions=6, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=2,
                 consumers=1,
                 rate_per_s=400,
                 duration_ms=30_000,
                 key_space=0,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '3', 'linger.ms': '0', 'delivery.timeout.ms': '30000', 'request.timeout.ms': '30000'},
                 consumer_config={'partition.assignment.strategy': 'range', 'session.timeout.ms': '10000', 'heartbeat.interval.ms': '1000'},
                 commit='async')
    at(sim, 7567); h2 = sim.network.drop(src=3, dst=None, api='Fetch', direction='response', count=None)  # fault 1: starve
    at(sim, 22_905); sim.rolling_restart(controlled=True)  # fault 2: rolling_restart
    at(sim, 23_567); sim.network.release(h2)  # fault 1: starve ends
    at(sim, 30_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
