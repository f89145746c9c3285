"""Regression found by `ksim hunt` (seed 1068, correct engine): `duplicate`, an idempotent record written twice; shrunk from 4 faults to 3.

Broker 3 led hunt-0 and its disk stalled. The producer (idempotent,
max.in.flight 4) had four Produce requests pipelined on one connection; the
first timed out, so the producer closed the connection and retried. A batch
expired after its retry (its sequence unresolved), the next one's retry got
OUT_OF_ORDER_SEQUENCE_NUMBER (the broker had not yet appended what came
before), and the producer bumped its epoch and resent that batch as epoch 1,
sequence 0 — as Kafka's client does. The broker then processed every request
still queued on the closed connection, the batch's epoch-0 attempt among
them: two copies. Kafka reads a connection its client closed one request at
a time only until a response fails to go out (the client's socket answers the
first response with a reset), so the requests behind are never processed;
ksim's broker now drops them there.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'duplicate'


def story(config):
    sim = ksim.Simulation(seed=1068, brokers=3, controllers=2, config=dict({'replica.lag.time.max.ms': '2000', 'broker.session.timeout.ms': '4500', 'broker.heartbeat.interval.ms': '1000', 'leader.imbalance.check.interval.seconds': '2'}, **config))
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=1,
                 consumers=2,
                 rate_per_s=400,
                 duration_ms=12_899,
                 key_space=16,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '4', 'linger.ms': '0', 'delivery.timeout.ms': '3000', 'request.timeout.ms': '2000'},
                 consumer_config={'partition.assignment.strategy': 'range', 'session.timeout.ms': '6000', 'heartbeat.interval.ms': '1000'},
                 commit='async')
    at(sim, 609); h1 = sim.network.hold(src=3, dst=2, api='Fetch', direction='response', count=None)  # fault 1: starve
    at(sim, 6609); sim.network.release(h1)  # fault 1: starve ends
    at(sim, 7116); sim.isolate(3)  # fault 2: partition
    at(sim, 8116); sim.heal()  # fault 2: partition ends
    at(sim, 8899); sim.disk_stall(3)  # fault 3: disk_stall
    at(sim, 11_899); sim.disk_stall(3, False)  # fault 3: disk_stall ends
    at(sim, 12_899)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
