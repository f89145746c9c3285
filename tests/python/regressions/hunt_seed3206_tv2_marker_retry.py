"""Regression found by `ksim hunt` (seed 3206, every fix on), shrunk by `ksim shrink`: `aborted-read`.

A transactional producer (TV2) aborts a transaction while a leader's Fetch
responses are held and brokers restart. The coordinator's ABORT marker is
appended on the leader but not replicated in time; the coordinator retries
it, and the leader refused the retry with INVALID_PRODUCER_EPOCH (a TV2
marker must be above the epoch it already holds — its own unreplicated
copy). The coordinator took that as "done". A leader change then truncated
the only copy, and the next transaction's COMMIT marker covered the aborted
records: a read_committed consumer returned them. Kafka answers such a
retry as an idempotent success (KAFKA-19999); ksim does too, once the log
is replicated up to its end, where the first copy is.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'aborted-read'


def story(config):
    sim = ksim.Simulation(seed=3206, brokers=4, controllers=2, config=config)
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=2,
                 consumers=1,
                 rate_per_s=200,
                 duration_ms=15_000,
                 key_space=16,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '1', 'linger.ms': '0', 'delivery.timeout.ms': '5000', 'request.timeout.ms': '2000', 'transactional.id': 'hunt-tx'},
                 consumer_config={'partition.assignment.strategy': 'cooperative-sticky', 'session.timeout.ms': '6000', 'heartbeat.interval.ms': '1000', 'isolation.level': 'read_committed'},
                 commit='sync',
                 transaction_records=10,
                 abort_probability=0.1)
    at(sim, 895); h1 = sim.network.hold(src=2, dst=None, api='Fetch', direction='response', count=None)  # fault 1: starve
    at(sim, 1393); sim.rolling_restart(controlled=True)  # fault 2: rolling_restart
    at(sim, 1910); sim.rolling_restart(controlled=True)  # fault 3: rolling_restart
    at(sim, 2508); sim.shutdown(2)  # fault 4: shutdown
    at(sim, 2570); sim.restart(2)  # fault 4: shutdown ends
    at(sim, 2658); sim.network.release(h1)  # fault 1: starve ends
    at(sim, 15_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
