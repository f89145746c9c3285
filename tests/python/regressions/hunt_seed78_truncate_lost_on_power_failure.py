"""Regression found by `ksim hunt` (seed 78, correct engine): `divergence` below the high watermark, shrunk from 25 faults to 5.

Broker 2 led epoch 2 and wrote two records its followers never got; a
controlled shutdown moved leadership to broker 3 (epoch 3). Back as a
follower, broker 2 truncated them away by leader epoch and fetched epoch 3's
records. Then a torn power failure: the simulated disk treated the truncate
as unsynced data and brought the two records back, while the leader-epoch
checkpoint (fsynced) said epoch 3 started before them — so broker 2 kept them
and, leading again later, made broker 3 keep its own: two ISR members with
different records below the HW. A truncate is a metadata operation that the
filesystem journals (and Kafka fsyncs the epoch checkpoint right after it):
ksim now makes it durable at once.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'divergence'


def story(config):
    sim = ksim.Simulation(seed=78, brokers=4, controllers=1, config=config)
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=2,
                 consumers=1,
                 rate_per_s=100,
                 duration_ms=8603,
                 key_space=0,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '4', 'linger.ms': '5', 'delivery.timeout.ms': '30005', 'request.timeout.ms': '30000'},
                 consumer_config={'partition.assignment.strategy': 'cooperative-sticky', 'session.timeout.ms': '45000', 'heartbeat.interval.ms': '1000'},
                 commit='auto')
    at(sim, 835); sim.rolling_restart(controlled=True)  # fault 1: rolling_restart
    at(sim, 2407); sim.elect_leaders()  # fault 2: preferred_election
    at(sim, 3139); sim.rolling_restart(controlled=True)  # fault 3: rolling_restart
    at(sim, 3401); sim.rolling_restart(controlled=False)  # fault 4: rolling_restart
    at(sim, 4603); sim.power_fail(2, torn=True)  # fault 5: power_fail
    at(sim, 4790); sim.restart(2)  # fault 5: power_fail ends
    at(sim, 8603)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
