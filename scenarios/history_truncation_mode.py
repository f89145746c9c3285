"""ksim.truncation.mode: pre-KIP-101 truncation to the high watermark loses a committed write.

Two brokers, min.insync.replicas=2. Both have m1 and m2 (acknowledged, acks=all)
when the follower is restarted (a controlled shutdown) before it learned the
new high watermark; it gets no Fetch response from then on. With the old
behaviour it truncates its log to its stale high watermark, dropping m2. The
leader then dies and the follower — an eligible leader replica (KIP-966),
which its clean-shutdown file kept eligible — is elected cleanly: m2 is gone. With
truncation by leader epoch (the default) the follower keeps m2. The story runs
both and EXPECTS the loss — a lost-write VIOLATION of acks=all with
min.insync.replicas=2 — only with the switch set to high-watermark.
"""
import ksim


def story(seed: int, mode: str) -> bool:
    sim = ksim.Simulation(seed=seed, brokers=2, controllers=1, config={"ksim.truncation.mode": mode})
    sim.create_topic("t", config={"min.insync.replicas": "2"}, assignment=[[1, 2]])
    assert sim.produce("t", 0, ["m1"])["error"] is None
    acked = sim.produce("t", 0, ["m2"])["error"] is None
    starve = sim.network.hold(src=1, dst=2, api="Fetch", direction="response", count=None)
    assert sim.shutdown(2)
    sim.restart(2)
    sim.run_for(5_000)
    sim.crash(1)
    sim.network.discard(starve)
    sim.run_until(lambda: sim.describe_topic("t")[0].leader == 2, timeout_ms=30_000)
    kept = b"m2" in [v for _, v in sim.log(2, "t", 0)]
    v = sim.check()
    print(f"{mode:>14}: m2 acknowledged={acked}, on the new leader={kept}, verdict: {'ok' if v.ok else 'VIOLATED'}")
    lost = [a for a in v.violations if a.kind == "lost-write"]
    return acked and not kept and any(a.records == ["m2"] for a in lost)


def scenario(seed: int) -> bool:
    # The old behaviour breaks Kafka's promise (a violation, not an expected loss); the fix keeps it.
    return story(seed, "high-watermark") and not story(seed, "leader-epoch")


if __name__ == "__main__":
    ksim.main(scenario)
