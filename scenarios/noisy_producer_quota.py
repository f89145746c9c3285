"""Client quotas: a noisy producer over its producer_byte_rate is throttled; a quiet one keeps its latency.

Two producers write 1 KB records to the same partition (so to the same
leader). `noisy` offers 400 KB/s; an operator gave its client-id a quota of
producer_byte_rate=50,000 (Admin.alterClientQuotas: a ClientQuotaRecord in the
metadata log). The leader measures each client's byte rate over 11 windows of
1 s and, when `noisy` is above its quota, answers with throttle_time_ms =
(rate - quota) / quota × window and mutes its connection that long (KIP-219);
the producer does not send to that broker until the time has passed. So
`noisy` gets ~50 KB/s through and its records queue up for seconds, while
`quiet` (10 KB/s, no quota) is answered in milliseconds and never throttled.
Then the quota is removed and the backlog drains. Nothing is lost.
"""
import ksim

QUOTA = 50_000          # bytes per second for client-id "noisy"
RECORD = b"x" * 1_000
RUN_MS = 20_000
STEP_MS = 5


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def scenario(seed: int) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=3)
    sim.create_topic("events", partitions=1, replication_factor=3)
    sim.alter_client_quotas(entity={"client-id": "noisy"}, quotas={"producer_byte_rate": QUOTA})
    print("quotas:", sim.describe_client_quotas())
    noisy = sim.producer({"client.id": "noisy"})
    quiet = sim.producer({"client.id": "quiet"})
    latency = {"noisy": [], "quiet": []}
    acked_in_run = {"noisy": 0, "quiet": 0}

    def delivered(name, sent_ms):
        def on_delivery(err, msg):
            assert err is None, f"{name}: {err}"
            latency[name].append(sim.now - sent_ms)
            if sim.now <= RUN_MS + start:
                acked_in_run[name] += 1
        return on_delivery

    start = sim.now
    offered = 0
    for i in range(RUN_MS // STEP_MS):
        now = sim.now
        for _ in range(2):                       # 400 records/s = 400 KB/s
            noisy.produce("events", value=RECORD, on_delivery=delivered("noisy", now))
            offered += 1
        if i % 20 == 0:                          # 10 records/s = 10 KB/s
            quiet.produce("events", value=RECORD, on_delivery=delivered("quiet", now))
        sim.run_for(STEP_MS)
        noisy.poll(0)
        quiet.poll(0)

    leader = sim.describe_topic("events")[0].leader
    tags = "{broker=%d,type=Produce,user=,client-id=%s}"
    m = sim.metrics()
    noisy_rate = acked_in_run["noisy"] * len(RECORD) / (RUN_MS / 1000)
    print(f"noisy: offered {offered * len(RECORD) // (RUN_MS // 1000):,} B/s, acknowledged {noisy_rate:,.0f} B/s "
          f"(quota {QUOTA:,}); delivery latency p50 {percentile(latency['noisy'], .5)} ms, "
          f"max {max(latency['noisy'])} ms; {noisy.metrics()}")
    print(f"quiet: {len(latency['quiet'])} records, latency p50 {percentile(latency['quiet'], .5)} ms, "
          f"p99 {percentile(latency['quiet'], .99)} ms; {quiet.metrics()}")
    print(f"broker {leader}: noisy byte-rate {m['byte-rate' + tags % (leader, 'noisy')]:,.0f} B/s, "
          f"throttle-time {m['throttle-time' + tags % (leader, 'noisy')]:.0f} ms (mean of the throttled answers)")
    throttled = (noisy.metrics()["produce-throttle-time-max"] > 0
                 and m["throttle-time" + tags % (leader, "noisy")] > 0
                 and 0.8 * QUOTA <= noisy_rate <= 1.4 * QUOTA
                 and percentile(latency["noisy"], .5) > 1_000)
    unaffected = (quiet.metrics()["produce-throttle-time-max"] == 0
                  and m["throttle-time" + tags % (leader, "quiet")] == 0
                  and len(latency["quiet"]) == RUN_MS // STEP_MS // 20
                  and percentile(latency["quiet"], .99) <= 50)

    # The operator lifts the quota: the backlog drains.
    sim.alter_client_quotas(entity={"client-id": "noisy"}, quotas={"producer_byte_rate": None})
    left = noisy.flush(timeout_ms=60_000) + quiet.flush(timeout_ms=60_000)
    print(f"quota removed: {left} records left undelivered; quotas now {sim.describe_client_quotas()}")
    v = sim.check()
    print(v)
    return throttled and unaffected and left == 0 and len(latency["noisy"]) == offered and v.ok


if __name__ == "__main__":
    ksim.main(scenario)
