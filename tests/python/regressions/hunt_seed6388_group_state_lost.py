"""Regression found by `ksim hunt` (seed 6388, every fix on), shrunk by `ksim shrink`: `split-ownership`.

Power failures, controlled shutdowns and a paused broker leave the group's
__consumer_offsets partition with no ISR; KIP-966 elects its last known
leader, whose log lost the group's records to a power failure. The new
coordinator creates the group anew and generations start over: a new member
gets "generation 1" while an old member still holds the partition from the
first generation 1. The checker now sees the group's incarnations (the
coordinator's `group_created` events) and judges that loss with the fault
model of committed records: expected here (an unclean election of the
offsets partition), a violation when nothing permits it.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'split-ownership'


def story(config):
    sim = ksim.Simulation(seed=6388, brokers=3, controllers=2, config=config)
    sim.create_topic('hunt', partitions=1, replication_factor=3, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'true'})
    w = sim.workload('hunt', producers=1,
                 consumers=2,
                 rate_per_s=25,
                 duration_ms=30_000,
                 key_space=0,
                 producer_config={'acks': '0', 'enable.idempotence': 'false', 'max.in.flight.requests.per.connection': '2', 'linger.ms': '0', 'delivery.timeout.ms': '15000', 'request.timeout.ms': '2000'},
                 consumer_config={'partition.assignment.strategy': 'range', 'session.timeout.ms': '45000', 'heartbeat.interval.ms': '1000'},
                 commit='auto')
    at(sim, 1190); sim.power_fail(3, torn=False)  # fault 1: power_fail
    at(sim, 2005); sim.shutdown(2)  # fault 2: shutdown
    at(sim, 2190); sim.restart(3)  # fault 1: power_fail ends
    at(sim, 2876); sim.shutdown(3)  # fault 3: shutdown
    at(sim, 2951); sim.restart(3)  # fault 3: shutdown ends
    at(sim, 3005); sim.restart(2)  # fault 2: shutdown ends
    at(sim, 4038); sim.power_fail(1, torn=False)  # fault 4: power_fail
    at(sim, 4225); sim.restart(1)  # fault 4: power_fail ends
    at(sim, 8111); sim.crash(5)  # fault 5: controller_crash
    at(sim, 10_611); sim.restart(5)  # fault 5: controller_crash ends
    at(sim, 11_724); sim.shutdown(1)  # fault 6: shutdown
    at(sim, 11_786); sim.restart(1)  # fault 6: shutdown ends
    at(sim, 14_987); sim.pause(1, 3000)  # fault 7: pause
    at(sim, 18_614); sim.power_fail(3, torn=False)  # fault 8: power_fail
    at(sim, 19_114); sim.restart(3)  # fault 8: power_fail ends
    at(sim, 20_681); sim.power_fail(2, torn=True)  # fault 9: power_fail
    at(sim, 21_181); sim.restart(2)  # fault 9: power_fail ends
    at(sim, 30_000)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
