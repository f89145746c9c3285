"""ksim.group.generation.fencing=false: a zombie consumer's commit after a rebalance makes the group skip records.

Consumer A reads and commits offset 20, then stalls in processing; its
heartbeats stop reaching the coordinator (dropped on the network). The
coordinator evicts it after session.timeout.ms and gives the partition to B
(generation 2), which resumes from 20. A does not know: back from its stall, a
zombie, it reads on to 60 (its fetches still work). B reads to 30 and commits. Then A commits 60 with its old generation. Kafka fences it
(ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID): the committed offset stays 30 and the
next owner resumes there. With fencing switched off the zombie's commit lands;
when B leaves, C resumes at 60 — offsets 30..59 never reached a live member of
the group: a `poll-skip` violation. The story EXPECTS it only with fencing off.
"""
import ksim


def drain(c, n, deadline_ms, sim):
    got = []
    end = sim.now + deadline_ms
    while len(got) < n and sim.now < end:
        m = c.poll(timeout_ms=500)
        if m is not None:
            got.append(m.offset())
    return got


def story(seed: int, fencing: bool):
    sim = ksim.Simulation(seed=seed, brokers=3, controllers=1,
                          config={"ksim.group.generation.fencing": "true" if fencing else "false"})
    sim.create_topic("ledger", partitions=1, replication_factor=3)
    p = sim.producer({"acks": "all"})
    for i in range(100):
        p.produce("ledger", value=f"entry-{i}".encode(), partition=0)
    p.flush(timeout_ms=30_000)
    conf = {"group.id": "auditors", "auto.offset.reset": "earliest", "enable.auto.commit": "false",
            "session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
    a = sim.consumer(dict(conf, **{"client.id": "auditor-a"}))
    a.subscribe(["ledger"])
    drain(a, 20, 30_000, sim)
    a.commit()                                              # committed: 20
    sim.network.drop(src=a.id, api="Heartbeat", count=None)  # A's heartbeats vanish; its fetches do not
    b = sim.consumer(dict(conf, **{"client.id": "auditor-b"}))
    b.subscribe(["ledger"])
    fresh = drain(b, 1, 60_000, sim)                        # B owns the partition now (generation 2)
    zombie = []
    end = sim.now + 60_000
    while (len(zombie) < 40 or len(fresh) < 10) and sim.now < end:
        if len(zombie) < 40:
            m = a.poll(timeout_ms=100)
            if m is not None:
                zombie.append(m.offset())
        if len(fresh) < 10:
            m = b.poll(timeout_ms=100)
            if m is not None:
                fresh.append(m.offset())
    b.commit()                                              # committed: 30
    try:
        a.commit()                                          # the zombie commits 60
        zombie_commit = "accepted"
    except ksim.KafkaException as e:
        zombie_commit = e.args[0].name()
    b.close()
    c = sim.consumer(dict(conf, **{"client.id": "auditor-c"}))
    c.subscribe(["ledger"])
    resumed = drain(c, 1, 60_000, sim)
    v = sim.check()
    skips = [x for x in v.violations if x.kind == "poll-skip"]
    print(f"fencing={'on ' if fencing else 'off'}: zombie read {zombie[0]}..{zombie[-1]}, B read {fresh[0]}..{fresh[-1]}; "
          f"zombie commit: {zombie_commit}; C resumed at {resumed[:1]}; poll-skip: {len(skips)}")
    return zombie_commit, resumed[:1], skips, v


def scenario(seed: int) -> bool:
    commit_off, resumed_off, skips_off, _ = story(seed, fencing=False)
    commit_on, resumed_on, skips_on, v_on = story(seed, fencing=True)
    return (commit_off == "accepted" and resumed_off == [60] and len(skips_off) >= 1
            and commit_on != "accepted" and resumed_on == [30] and skips_on == [] and v_on.ok)


if __name__ == "__main__":
    ksim.main(scenario)
