"""Regression found by `ksim hunt` (seed 14 of its first draws): the producer's Sender spun forever at one virtual instant.

Its Produce requests were dropped and delayed; a batch queued behind another
passed its delivery.timeout.ms while the batch in front had not. The Sender
woke for that deadline, found nothing expire_batches() could expire (only a
queue's first batch expires, as in Kafka) and woke again at the same instant:
`run_for` never returned. Now it wakes for the deadlines of the batches it can
expire. The schedule below is the hunt's run, as `ksim hunt --seed 14 --script` printed it.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = None


def story(config):
    sim = ksim.Simulation(seed=14, brokers=5, controllers=3, config=config)
    sim.create_topic('hunt', partitions=5, replication_factor=2, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=2, consumers=1, rate_per_s=400, duration_ms=20_000,
                   producer_config={'acks': 'all', 'enable.idempotence': 'false', 'max.in.flight.requests.per.connection': '4', 'linger.ms': '20', 'delivery.timeout.ms': '30020', 'request.timeout.ms': '30000'},
                   consumer_config={'partition.assignment.strategy': 'range', 'session.timeout.ms': '6000', 'heartbeat.interval.ms': '1000'},
                   commit='async', key_space=16, transaction_records=3, abort_probability=0.0)
    at(sim, 1826); h1 = sim.network.drop(src=w.producer_ids[0], dst=None, api='Produce', direction='request', count=None)  # fault 1: msg
    at(sim, 2382); h2 = sim.network.delay(src=w.producer_ids[0], dst=None, api='Produce', direction='request', count=None, extra_ms=200)  # fault 2: msg
    at(sim, 3826); sim.network.release(h1)  # fault 1: msg ends
    at(sim, 4418); h3 = sim.network.delay(src=5, dst=None, api='BrokerHeartbeat', direction='request', count=None, extra_ms=10000)  # fault 3: msg
    at(sim, 8382); sim.network.release(h2)  # fault 2: msg ends
    at(sim, 8990); h4 = sim.network.hold(src=w.consumer_ids[0], dst=None, api='Heartbeat', direction='request', count=None)  # fault 4: msg
    at(sim, 14_990); sim.network.release(h4)  # fault 4: msg ends
    at(sim, 15_049); h5 = sim.network.drop(src=3, dst=None, api='Fetch', direction='response', count=None)  # fault 5: msg
    at(sim, 15_549); sim.network.release(h5)  # fault 5: msg ends
    at(sim, 15_767); h6 = sim.network.hold(src=1, dst=None, api='WriteTxnMarkers', direction='request', count=None)  # fault 6: msg
    at(sim, 16_267); sim.network.release(h6)  # fault 6: msg ends
    at(sim, 16_487); h7 = sim.network.delay(src=None, dst=1, api='MetadataFetch', direction='response', count=1, extra_ms=200)  # fault 7: msg
    at(sim, 18_487); sim.network.release(h7)  # fault 7: msg ends
    at(sim, 20_000); sim.network.release(h3)  # fault 3: msg ends
    at(sim, 20_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
