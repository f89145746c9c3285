"""Regression found by `ksim hunt` (seed 779, correct engine): `liveness`, an ISR that never expanded, shrunk from 6 faults to 2.

Broker 2 loses power and comes back; it catches up, and the leader asks the
controller to add it to the ISR. The only controller crashes and restarts:
meanwhile AlterPartition is answered NOT_CONTROLLER. ksim's leader took that
as "fenced or stale, wait for metadata" — but no metadata change was coming,
so the ISR stayed short forever. Kafka's AlterPartitionManager resends a
request the controller did not attempt; ksim now does.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'liveness'


def story(config):
    sim = ksim.Simulation(seed=779, brokers=3, controllers=1, config=config)
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=100,
                 duration_ms=15_000,
                 key_space=0,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '3', 'linger.ms': '20', 'delivery.timeout.ms': '15000', 'request.timeout.ms': '2000', 'transactional.id': 'hunt-tx'},
                 transaction_records=3,
                 abort_probability=0.0)
    at(sim, 1358); sim.power_fail(2, torn=False)  # fault 1: power_fail
    at(sim, 1858); sim.restart(2)  # fault 1: power_fail ends
    at(sim, 10_750); sim.crash(4)  # fault 2: controller_crash
    at(sim, 11_015); sim.restart(4)  # fault 2: controller_crash ends
    at(sim, 15_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
