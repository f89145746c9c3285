"""Idempotent retries vs duplicates: a lost Produce response makes the producer retry; without idempotence the record is written twice.

The first ProduceResponse is dropped on its way back, so the producer never
learns its batch was appended and sends it again after request.timeout.ms.
Without idempotence the broker appends the retry too: the same value at two
offsets — a `duplicate` the checkers report as EXPECTED (no idempotence: Kafka
promises at-least-once). With enable.idempotence=true (the default) the broker
recognises the retried batch by producer id and sequence number and answers
with the original offset: one copy. The story runs both.
"""
import ksim


def story(seed: int, idempotent: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1, config={"min.insync.replicas": "2"})
    sim.create_topic("payments", partitions=1, replication_factor=3)
    p = sim.producer({"acks": "all", "enable.idempotence": "true" if idempotent else "false",
                      "request.timeout.ms": "5000", "linger.ms": "0"})
    p.produce("payments", value=b"warmup", partition=0)
    p.flush(timeout_ms=30_000)
    sim.network.drop(api="Produce", direction="response", count=1)
    outcomes = []
    p.produce("payments", value=b"pay-42", partition=0, on_delivery=lambda err, msg: outcomes.append((err, msg.offset())))
    p.flush(timeout_ms=60_000)
    copies = [o for o, v in sim.log(sim.describe_topic("payments")[0].leader, "payments", 0) if v == b"pay-42"]
    v = sim.check()
    dups = [a for a in v.anomalies if a.kind == "duplicate"]
    print(f"idempotence={'on ' if idempotent else 'off'}: delivered {outcomes}, 'pay-42' at offsets {copies}, "
          f"duplicates reported: {[(a.expected, a.cause) for a in dups]}")
    return copies, dups, v


def scenario(seed: int) -> bool:
    copies_off, dups_off, v_off = story(seed, idempotent=False)
    copies_on, dups_on, v_on = story(seed, idempotent=True)
    return (len(copies_off) == 2 and len(dups_off) == 1 and dups_off[0].expected and v_off.ok
            and len(copies_on) == 1 and dups_on == [] and v_on.ok)


if __name__ == "__main__":
    ksim.main(scenario)
