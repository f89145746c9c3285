"""Shrunk by `ksim shrink` from ksim hunt seed 377 (ksim.transaction.protocol=v1): aborted-read.

Faults 3 -> 1, records ~8000 -> ~1797, 15 runs in 1.3 s.

A transactional producer's Produce requests are held in the network for 7 s,
past its request.timeout.ms (it closes the connection) and delivery.timeout.ms
(the sends fail, the transaction aborts). On release, the requests it sent
before closing still arrive (TCP's orderly release) and, under v1, the leader
appends them after the abort marker; the producer's next committed transaction
on the partition commits them too, and a read_committed consumer reads records
of an aborted transaction. Under v2 (KIP-890) the late write is refused. Before
session 12 the network dropped the released requests (the connection was
closed), so the hunt never found v1.

`story(BUG)` runs the schedule below and the checkers report `aborted-read`;
`story({})` runs it on the fixed engine. `ksim run` exits 1 while the anomaly
reproduces. The run is this file's own (seed 377): ksim run's --seed is not used.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {'ksim.transaction.protocol': 'v1'}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'aborted-read'


def story(config):
    sim = ksim.Simulation(seed=377, brokers=2, controllers=1, config=dict({'replica.lag.time.max.ms': '10000', 'broker.session.timeout.ms': '4500', 'broker.heartbeat.interval.ms': '1000', 'leader.imbalance.check.interval.seconds': '2'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=2, config={'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=2,
                 consumers=1,
                 rate_per_s=100,
                 duration_ms=17_977,
                 key_space=0,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '1', 'linger.ms': '20', 'delivery.timeout.ms': '5000', 'request.timeout.ms': '2000', 'transactional.id': 'hunt-tx'},
                 consumer_config={'isolation.level': 'read_committed', 'group.protocol': 'consumer', 'group.remote.assignor': 'uniform'},
                 commit='async',
                 transaction_records=3,
                 abort_probability=0.1)
    at(sim, 2977); h1 = sim.network.hold(src=w.producer_ids[0], dst=None, api='Produce', direction='request', count=None)  # fault 1: produce_late
    at(sim, 9977); sim.network.release(h1)  # fault 1: produce_late ends
    at(sim, 17_977)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
