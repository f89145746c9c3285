"""In-flight reordering without idempotence: a retried batch lands after a later one.

max.in.flight.requests.per.connection=5, retries on, idempotence off: batch A
is sent, its request is lost on the network, batch B (sent right after) is
appended first; A is retried after request.timeout.ms and lands behind B. The
partition's order is no longer the send order — a `nonmonotonic-send` the
checkers report as EXPECTED (Kafka only promises order with idempotence or one
request in flight). With idempotence the broker refuses B until A arrives
(OUT_OF_ORDER_SEQUENCE_NUMBER, retried), and the order holds. The story runs both.
"""
import ksim


def story(seed: int, idempotent: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1)
    sim.create_topic("events", partitions=1, replication_factor=3)
    p = sim.producer({"acks": "all", "enable.idempotence": "true" if idempotent else "false",
                      "max.in.flight.requests.per.connection": "5", "linger.ms": "0", "request.timeout.ms": "3000"})
    p.produce("events", value=b"warmup", partition=0)
    p.flush(timeout_ms=30_000)
    sim.network.drop(api="Produce", direction="request", count=1)
    p.produce("events", value=b"A", partition=0)
    sim.run_for(5)
    p.produce("events", value=b"B", partition=0)
    p.flush(timeout_ms=60_000)
    order = [v for _, v in sim.log(sim.describe_topic("events")[0].leader, "events", 0) if v in (b"A", b"B")]
    v = sim.check()
    reorders = [a for a in v.anomalies if a.kind == "nonmonotonic-send"]
    print(f"idempotence={'on ' if idempotent else 'off'}: log order {order}; reorder reported: "
          f"{[(a.expected, a.cause) for a in reorders]}")
    return order, reorders, v


def scenario(seed: int) -> bool:
    order_off, reorder_off, v_off = story(seed, idempotent=False)
    order_on, reorder_on, v_on = story(seed, idempotent=True)
    return (order_off == [b"B", b"A"] and len(reorder_off) == 1 and reorder_off[0].expected and v_off.ok
            and order_on == [b"A", b"B"] and reorder_on == [] and v_on.ok)


if __name__ == "__main__":
    ksim.main(scenario)
