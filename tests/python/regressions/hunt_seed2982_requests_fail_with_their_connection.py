"""Regression found by `ksim hunt` (seed 2982, every fix on), shrunk by `ksim shrink`: `duplicate`.

An idempotent producer (max.in.flight=2) sends to a leader whose disk stalls
for 8 s. Its first Produce request times out; Kafka's NetworkClient closes the
connection and fails every request in flight on it in the same poll. ksim
failed the second request only when the network's "disconnected" reply
arrived, a moment later: in between the Sender drained a new batch of the
same partition (sequence 1) ahead of the retry of sequence 0. The leader,
knowing nothing of the producer, accepted sequence 1 first; sequence 0 then
got OUT_OF_ORDER_SEQUENCE_NUMBER, the producer bumped its epoch (KIP-360),
renumbered, and wrote sequence 1's 59 records a second time. Now a timed-out
or broken request fails all the requests on its connection at once.
"""
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {}  # the setting the hunt ran with; {} runs the fixed engine
KIND = 'duplicate'


def story(config):
    sim = ksim.Simulation(seed=2982, brokers=3, controllers=1, config=config)
    sim.create_topic('hunt', partitions=4, replication_factor=2, config={'min.insync.replicas': '1', 'unclean.leader.election.enable': 'false'})
    w = sim.workload('hunt', producers=1,
                 consumers=0,
                 rate_per_s=400,
                 duration_ms=9548,
                 key_space=16,
                 producer_config={'acks': 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '2', 'linger.ms': '20', 'delivery.timeout.ms': '15000', 'request.timeout.ms': '2000'})
    at(sim, 548); sim.disk_stall(3)  # fault 1: disk_stall
    at(sim, 8548); sim.disk_stall(3, False)  # fault 1: disk_stall ends
    at(sim, 9548)
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
