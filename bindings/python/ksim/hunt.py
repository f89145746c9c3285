"""ksim hunt: find bugs nobody scripted, with a built-in swarm workload and nemesis.

    ksim hunt --seeds 1:500 --jobs 2 --db hunt.db
    ksim hunt --seeds 1:200 --config ksim.truncation.mode=high-watermark   # hunt a known bug
    python3 -m ksim.hunt --seed 17 --script out.py   # one seed's run as a scenario file

Per seed, everything is drawn from the seed (FoundationDB's BUGGIFY, swarm
testing): the cluster's shape (3-5 brokers, 1-3 KRaft controllers, partitions,
replication factor, min.insync.replicas, unclean elections allowed or not), the
clients (acks, idempotence, max.in.flight, transactions and read_committed,
consumer groups with their assignor, auto or manual commits, session timeout),
and WHICH fault kinds are switched on at all, with their rate, their length and
how many may overlap. A seed that switches off most kinds digs deep into the
few left (swarm testing finds more than every kind at once: a crash every
second hides the slow paths a held message needs). Then the run, then
`check()`: every checker judges every seed.

The drawn plan is symbolic ("crash the leader of partition 2", "hold the Fetch
responses of broker 3"); the run resolves each fault to concrete calls on the
Simulation at a virtual time and records them. That record (`Run.actions`)
is the explicit fault schedule ksim.shrink reduces and prints as a scenario.
Same seed, same plan, same calls, same trace: a seed reproduces anywhere.

Fault kinds: crash, power_fail, shutdown (controlled, then restart), pause,
partition (one node cut off), one_way (one node's messages to another lost),
slow_disk, disk_stall, disk_full, msg (a Kafka API's messages held then
delivered late, dropped, duplicated or delayed), rolling_restart,
controller_crash, client_pause (a consumer's process stalls: a zombie),
client_crash (a producer's or consumer's process killed, then restarted:
a fresh client resumes the workload — a fenced transactional producer too),
unclean (an admin-forced unclean election of offline partitions),
preferred_election (kafka-leader-election --election-type preferred),
failover_chain (in a fifth of the seeds, one of two Jepsen-style composites
on one partition: two failovers in a row and an unclean recovery,
_failover_chain; or leadership leaving and coming back while a follower's
metadata is stale, _leader_flap; or an acks=all write while a follower's
return to the ISR is in flight, _expansion_race), and
four targeted message faults: starve (a leader's Fetch responses held or
lost: followers fall behind while it acknowledges), produce_late (a
producer's Produce requests stuck in the network until after their
delivery.timeout.ms, then delivered: the application saw the sends fail and
moved on — aborted its transaction, say — when the old writes land), stale_metadata (a
broker's MetadataFetch responses lost), isr_stuck (a leader's AlterPartition
held in flight), zombie (a consumer's heartbeats lost for 1.5-3 session
timeouts while it fetches and commits on).
Message faults hit one to three Kafka APIs per seed (swarm again), weighted
towards the clients' own: a transactional producer's Produce / EndTxn /
AddPartitionsToTxn / WriteTxnMarkers, a group's Heartbeat / OffsetCommit /
JoinGroup.
"""
import argparse
import contextlib
import io
import json
import sys
import time

TOPIC = "hunt"
KINDS = ("crash", "power_fail", "shutdown", "pause", "partition", "one_way", "slow_disk", "disk_stall", "disk_full",
         "msg", "rolling_restart", "controller_crash", "client_pause", "unclean", "preferred_election",
         "starve", "stale_metadata", "isr_stuck", "zombie", "produce_late", "client_crash")
# Named message faults (Jepsen-style targeted nemeses): (api, direction, whose messages, actions, windows ms).
NAMED_MSG = {
    "starve": ("Fetch", "response", "leader", ("late", "drop"), (2_000, 6_000, 16_000)),
    "stale_metadata": ("MetadataFetch", "response", "to_broker", ("drop",), (6_000, 16_000)),
    "isr_stuck": ("AlterPartition", "request", "leader", ("late",), (2_000, 6_000, 16_000)),
    "zombie": ("Heartbeat", "request", "consumer", ("drop",), None),  # window: 1.5-3 session timeouts
    "produce_late": ("Produce", "request", "producer", ("late",), None),  # window: past delivery.timeout.ms
}
TXN_APIS = ("Produce", "EndTxn", "AddPartitionsToTxn", "WriteTxnMarkers")
GROUP_APIS = ("Heartbeat", "OffsetCommit", "JoinGroup")
MSG_APIS = (  # (api, direction, whose messages: the sender's role)
    ("Fetch", "response", "leader"), ("Produce", "request", "producer"), ("AlterPartition", "request", "leader"),
    ("MetadataFetch", "response", "to_broker"), ("Heartbeat", "request", "consumer"),
    ("OffsetCommit", "request", "consumer"), ("EndTxn", "request", "producer"),
    ("WriteTxnMarkers", "request", "any_broker"), ("BrokerHeartbeat", "request", "leader"),
    ("OffsetsForLeaderEpoch", "request", "any_broker"), ("Vote", "request", "controller"),
    ("JoinGroup", "response", "to_consumer"), ("AddPartitionsToTxn", "request", "producer"),
)
MSG_ACTIONS = ("late", "drop", "duplicate", "delay")


class Rng:
    """splitmix64: the plan's own stream, the same on every machine and Python version."""

    def __init__(self, seed):
        self.state = (int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):  # inclusive
        return lo + self.below(hi - lo + 1)

    def chance(self, p):
        return self.next() < p * 2.0**64

    def choice(self, seq):
        return seq[self.below(len(seq))]


# ---- drawing a plan ------------------------------------------------------------------------------

def draw(seed, overrides=None):
    """The plan of seed `seed`: a JSON-able dict (cluster, clients, symbolic faults).

    `overrides` (broker configuration, e.g. a history switch) does not change
    what is drawn: the same seed with and without a switch runs the same story."""
    r = Rng(seed)
    brokers = r.choice((3, 3, 4, 5))
    controllers = r.choice((1, 1, 2, 3))
    rf = min(brokers, r.choice((2, 3, 3, 3)))
    min_isr = min(rf, r.choice((1, 2, 2, 2)))
    partitions = r.choice((1, 1, 2, 3, 6))  # few partitions: the faults aimed at leaders hit the traffic
    unclean = r.chance(0.15)
    transactions = r.chance(0.25)
    idempotent = transactions or r.chance(0.5)
    acks = "all" if idempotent else r.choice(("all", "1", "1", "0"))
    producer = {"acks": acks, "enable.idempotence": "true" if idempotent else "false",
                "max.in.flight.requests.per.connection": str(r.between(1, 5)),
                "linger.ms": str(r.choice((0, 0, 5, 20))),
                "delivery.timeout.ms": str(r.choice((3_000, 5_000, 15_000, 120_000))),
                "request.timeout.ms": str(r.choice((2_000, 30_000)))}
    if int(producer["delivery.timeout.ms"]) < int(producer["request.timeout.ms"]) + int(producer["linger.ms"]):
        producer["delivery.timeout.ms"] = str(int(producer["request.timeout.ms"]) + int(producer["linger.ms"]))
    if transactions:
        producer["transactional.id"] = "hunt-tx"
    consumers = r.choice((0, 1, 2, 3, 3))
    consumer = {"partition.assignment.strategy": r.choice(("range", "roundrobin", "cooperative-sticky")),
                "session.timeout.ms": str(r.choice((6_000, 6_000, 10_000, 45_000))),
                "heartbeat.interval.ms": "1000"}
    if transactions and r.chance(0.8):
        consumer["isolation.level"] = "read_committed"
    commit = r.choice(("auto", "sync", "async"))
    run_ms = r.choice((15_000, 20_000, 30_000))
    workload = {"producers": r.choice((1, 1, 2)), "consumers": consumers, "rate_per_s": r.choice((100, 200, 400)),
                "duration_ms": run_ms, "producer_config": producer, "consumer_config": consumer, "commit": commit,
                "key_space": r.choice((0, 16)), "transaction_records": r.choice((3, 10)),
                "abort_probability": r.choice((0.0, 0.1, 0.3)) if transactions else 0.0}
    # Slow consumers (processing time per record): a group that lags behind the
    # producers, so owners, zombies and restarted members read at different offsets.
    workload["processing_us_per_record"] = r.choice((0, 0, 0, 2_000, 10_000))

    # Swarm: each kind is on or off for the whole run; at least one is on.
    on = [k for k in KINDS if r.chance(0.35)]
    if not on:
        on = [r.choice(KINDS)]
    # A replica left behind (stale metadata, starved fetches, a stuck ISR
    # change) matters when leadership moves back and forth: such seeds also
    # move it back to the preferred replicas more often.
    if any(k in on for k in ("stale_metadata", "starve", "isr_stuck")) and r.chance(0.5):
        on.append("preferred_election")
        on = sorted(set(on), key=KINDS.index)
    # Swarm over the Kafka APIs too: a seed's message faults hit one to three
    # APIs, the client's own more often (a transactional producer's, a group's).
    pool = [a[0] for a in MSG_APIS]
    if transactions:
        pool += list(TXN_APIS) * 3
    if consumers:
        pool += list(GROUP_APIS) * 2
    msg_apis = sorted({r.choice(pool) for _ in range(r.between(1, 3))})
    interval_ms = r.choice((500, 1_000, 2_000, 4_000))
    faults = []
    t = r.between(500, 2_000)
    while t < run_ms - 1_000:
        faults.append(_draw_fault(r, r.choice(on), t, partitions, brokers, controllers, workload, msg_apis))
        t += interval_ms // 2 + r.below(interval_ms)
    topic_config = {"min.insync.replicas": str(min_isr), "unclean.leader.election.enable": "true" if unclean else "false"}
    broker_config = _draw_cluster_config(r, workload, topic_config)
    # A failover chain (Jepsen-style composite nemesis), from a stream of its own
    # so the seeds without one keep their plans: see _failover_chain.
    chain_r = Rng(int(seed) * 0x2545F4914F6CDD1D + 0x1B873593)
    if chain_r.chance(0.2):
        session_ms = int(broker_config.get("broker.session.timeout.ms", 9_000))
        pick = chain_r.below(3)
        if pick == 0:
            chain = _failover_chain(chain_r, partitions, run_ms, session_ms)
        elif pick == 1:
            chain = _leader_flap(chain_r, partitions, run_ms, session_ms)
        else:
            chain = _expansion_race(chain_r, partitions, run_ms, int(broker_config["replica.lag.time.max.ms"]))
        if chain:
            faults = sorted(faults + chain, key=lambda f: f["at_ms"])  # stable: ties keep the plan's order
            on = on + ["failover_chain"]
    # A final read (Jepsen's): after the heal, a fresh group reads every partition
    # from the beginning — what a new application or a restored service sees of
    # the whole log once the cleaner and the faults have done their work.
    workload["final_read"] = r.chance(0.4)
    return {
        "seed": int(seed), "brokers": brokers, "controllers": controllers, "config": dict(overrides or {}),
        "broker_config": broker_config,
        "topic": {"partitions": partitions, "replication_factor": rf, "config": topic_config},
        "workload": workload, "kinds": on, "msg_apis": msg_apis, "interval_ms": interval_ms, "max_active": r.choice((1, 1, 2, 3)),
        "faults": faults, "run_ms": run_ms,
    }


def _draw_cluster_config(r, workload, topic_config):
    """The cluster's own tuning, drawn like the rest (what operators really set), and the
    compacted-topic and KIP-848 dimensions. Edits `workload` and `topic_config` in place;
    returns the broker configuration (the hunt's --config settings go on top of it).

    Why these: Kafka's replica.lag.time.max.ms (30 s) and broker.session.timeout.ms
    (9 s) are long against a 15-30 s run, so with the defaults alone a follower
    almost never leaves and rejoins the ISR and a crashed leader fails over once
    at most; half the seeds run with the short settings production clusters use
    for fast failover, where ISR churn and successive failovers happen within a
    run. ELR is off in Kafka 4.0 (on in 4.1): both are real clusters."""
    cfg = {"replica.lag.time.max.ms": str(r.choice((2_000, 2_000, 5_000, 10_000, 30_000)))}
    if r.chance(0.5):
        cfg["broker.session.timeout.ms"] = str(r.choice((3_000, 4_500)))
        cfg["broker.heartbeat.interval.ms"] = "1000"
    if r.chance(0.5):
        cfg["ksim.eligible.leader.replicas"] = "false"
    # Leadership moves back to the preferred replicas on its own within the run
    # (Kafka checks every 300 s): a broker that failed over comes back as leader
    # in a newer epoch while others may still hold the old picture.
    if r.chance(0.4):
        cfg["leader.imbalance.check.interval.seconds"] = str(r.choice((2, 5)))
    # A compacted topic (the log cleaner at work): keyed records, small segments so
    # segments roll and become cleanable within the run, a cleaner that wakes often,
    # and sometimes an offset map too small for the dirty section (partial passes).
    if r.chance(0.2):
        topic_config["cleanup.policy"] = r.choice(("compact", "compact", "compact,delete"))
        topic_config["segment.bytes"] = str(r.choice((1_500, 4_000, 16_000)))
        topic_config["min.cleanable.dirty.ratio"] = r.choice(("0.1", "0.5"))
        cfg["log.cleaner.backoff.ms"] = str(r.choice((500, 2_000)))
        if r.chance(0.5):
            cfg["log.cleaner.dedupe.buffer.size"] = str(r.choice((240, 600)))
        workload["key_space"] = r.choice((4, 16, 64))  # a keyless record is refused by a compacted topic
    # Consumer groups on KIP-848's protocol: the assignment is the coordinator's
    # (group.remote.assignor); partition.assignment.strategy is for classic groups only.
    if workload["consumers"] and r.chance(0.3):
        cc = workload["consumer_config"]
        cc.pop("partition.assignment.strategy", None)
        cc.pop("session.timeout.ms", None)  # the broker's group.consumer.session.timeout.ms rules
        cc.pop("heartbeat.interval.ms", None)
        cc["group.protocol"] = "consumer"
        cc["group.remote.assignor"] = r.choice(("uniform", "range"))
    return cfg


def _chain_msg(kind, at_ms, p, action, dur_ms, **extra):
    """A chain's step that is one of the named message faults (NAMED_MSG gives
    its API, direction and whose messages; `extra` may name other ends)."""
    api, direction, role, _actions, _windows = NAMED_MSG[kind]
    f = {"at_ms": at_ms, "kind": kind, "api": api, "direction": direction, "role": role, "action": action,
         "index": p, "dur_ms": dur_ms, "count": None, "extra_ms": 0, "chain": True}
    f.update(extra)
    return f


def _failover_chain(r, partitions, run_ms, session_ms):
    """Two failovers in a row, then an unclean recovery, all on one partition: the
    shape of Kafka's replication bugs (KIP-101, KIP-279, KIP-320). Its followers
    are starved while the leader L takes writes only it has; L crashes; once the
    controller has fenced it (a broker session) the new leader L2 takes writes
    of its own epoch at the same offsets and crashes too; L comes back and an
    admin forces the offline partition onto it (an unclean election: L never
    had L2's epoch); L2 comes back last and must find where its log and L's
    part. Each step is an ordinary fault (so shrinking can drop any of them);
    `chain` lets them start whatever max_active says. [] when the run is too
    short for the chain at this session timeout."""
    p = r.below(partitions)
    # From L's crash to L2's: the controller fences L (a session), then L2 leads
    # long enough for producers to find it (a metadata refresh) and write.
    gap_ms = session_ms + r.choice((3_000, 6_000))
    unclean_at = 1_500 + gap_ms + 2_500
    if unclean_at + 2_000 > run_ms - 1_000:
        return []
    t0 = r.between(1_000, run_ms - 1_000 - unclean_at - 2_000)
    starve = _chain_msg("starve", t0, p, r.choice(("drop", "late")), 1_500 + r.choice((1_000, 3_000)))
    first = {"at_ms": t0 + 1_500, "kind": "crash", "target": {"leader": p}, "dur_ms": gap_ms + 1_000, "chain": True}
    second = {"at_ms": t0 + 1_500 + gap_ms, "kind": "crash", "target": {"leader": p},
              "dur_ms": 2_500 + r.choice((1_500, 4_000)), "chain": True}
    unclean = {"at_ms": t0 + unclean_at, "kind": "unclean", "dur_ms": 0, "chain": True}
    return [starve, first, second, unclean]


def _leader_flap(r, partitions, run_ms, session_ms):
    """Leadership leaves a partition's leader and comes back while one follower's
    metadata is stale: KIP-320's story. Follower A stops hearing metadata; the
    leader's Fetch responses to follower B are lost, so a write lands on the
    leader and A only; the leader crashes, B takes over, the old leader returns
    as B's follower (truncating that write) and a preferred election gives it
    the partition back in a newer epoch. A still fetches as if nothing had
    happened. The followers are resolved when the faults start ("the first /
    last replica that is not the leader"). [] when the run is too short."""
    p = r.below(partitions)
    back_ms = session_ms + r.choice((2_000, 4_000))  # the old leader fenced, B leading, the old one back
    span = 1_500 + back_ms + 3_000
    if span + 2_000 > run_ms - 1_000:
        return []
    t0 = r.between(1_000, run_ms - 1_000 - span - 2_000)
    stale = _chain_msg("stale_metadata", t0, p, "drop", span + 2_000, role="to_follower_of", follower="last")
    starve = _chain_msg("starve", t0 + 500, p, "drop", 1_500, to_follower_of="first")
    crash = {"at_ms": t0 + 1_500, "kind": "crash", "target": {"leader": p}, "dur_ms": session_ms + 1_000, "chain": True}
    back = {"at_ms": t0 + 1_500 + back_ms + r.choice((1_000, 3_000)), "kind": "preferred_election", "dur_ms": 0,
            "chain": True}
    return [stale, starve, crash, back]


def _expansion_race(r, partitions, run_ms, lag_ms):
    """An acks=all write while a follower's return to the ISR is in flight: KIP-497's
    story. Follower F's disk stalls until F leaves the ISR; F catches up, and the
    leader's AlterPartition adding it back is held; the leader's Fetch responses
    to F are lost, so F gets nothing new while writes are acknowledged; the
    expansion commits; the leader and the other follower crash and F, in the ISR,
    is elected cleanly. [] when the run is too short for this lag."""
    p = r.below(partitions)
    span = lag_ms + 4_500 + 5_000
    if span + 1_000 > run_ms - 1_000:
        return []
    t0 = r.between(1_000, run_ms - 1_000 - span - 1_000)
    back = t0 + lag_ms + 1_500  # F's disk works again: it catches up and asks to rejoin
    stall = {"at_ms": t0, "kind": "disk_stall", "target": {"follower_of": p, "which": "last"},
             "dur_ms": lag_ms + 1_500, "chain": True}
    stuck = _chain_msg("isr_stuck", back - 500, p, "late", 2_000 + r.choice((500, 1_500)))
    starve = _chain_msg("starve", back + 1_000, p, "drop", 4_000, to_follower_of="last")
    crash_at = back + 3_000
    leader = {"at_ms": crash_at, "kind": "crash", "target": {"leader": p}, "dur_ms": 5_000, "chain": True}
    other = {"at_ms": crash_at, "kind": "crash", "target": {"follower_of": p, "which": "first"}, "dur_ms": 5_000,
             "chain": True}
    return [stall, stuck, starve, leader, other]


def _target(r, partitions, brokers):
    """A broker, chosen when the fault starts: mostly a partition's leader (where the damage is)."""
    if r.chance(0.6):
        return {"leader": r.below(partitions)}
    return {"broker": r.between(1, brokers)}


def _draw_fault(r, kind, at_ms, partitions, brokers, controllers, workload, msg_apis):
    f = {"at_ms": at_ms, "kind": kind}
    if kind in ("crash", "power_fail", "shutdown", "partition", "slow_disk", "disk_stall", "disk_full", "pause"):
        f["target"] = _target(r, partitions, brokers)
        f["dur_ms"] = r.choice((300, 1_000, 3_000, 8_000))
        if kind == "power_fail":
            f["torn"] = r.chance(0.5)
        if kind == "slow_disk":
            f["factor"] = r.choice((5.0, 20.0, 100.0))
    elif kind == "one_way":
        f["target"] = _target(r, partitions, brokers)
        f["to"] = r.choice(("broker", "controller", "any"))
        f["to_index"] = r.below(max(brokers, controllers))
        f["dur_ms"] = r.choice((1_000, 3_000, 8_000))
    elif kind == "msg":
        pick = r.choice(msg_apis)
        api, direction, role = next(m for m in MSG_APIS if m[0] == pick)
        f.update(api=api, direction=direction, role=role, action=r.choice(MSG_ACTIONS),
                 index=r.below(6), dur_ms=r.choice((500, 2_000, 6_000, 16_000)),
                 count=r.choice((1, 3, None, None)), extra_ms=r.choice((200, 2_000, 10_000)))
    elif kind in NAMED_MSG:
        api, direction, role, actions, windows = NAMED_MSG[kind]
        if windows is None and kind == "zombie":
            session_ms = int(workload["consumer_config"]["session.timeout.ms"])
            windows = (session_ms * 3 // 2, session_ms * 2)
        elif windows is None:  # produce_late: the sends expire (the application gives up) before they land
            expiry_ms = int(workload["producer_config"]["delivery.timeout.ms"])
            # (twice: an abort waits for the batches already in flight to expire too)
            windows = (expiry_ms * 2 + 1_000, expiry_ms * 2 + 4_000)
        f.update(api=api, direction=direction, role=role, action=r.choice(actions), index=r.below(6),
                 dur_ms=r.choice(windows), count=None, extra_ms=0)
        if kind == "starve" and r.chance(0.5):
            f["to_follower"] = r.between(1, brokers)  # only this follower falls behind
    elif kind == "controller_crash":
        f["index"] = r.below(controllers)
        f["dur_ms"] = r.choice((1_000, 5_000))
    elif kind == "client_crash":
        f["role"] = r.choice(("producer", "consumer"))
        f["index"] = r.below(4)
        f["dur_ms"] = r.choice((500, 3_000, 10_000))
    elif kind == "client_pause":
        f["index"] = r.below(4)
        f["dur_ms"] = r.choice((2_000, 8_000, 15_000, 50_000))
    elif kind in ("unclean", "preferred_election"):
        f["dur_ms"] = 0
    elif kind == "rolling_restart":
        f["controlled"] = r.chance(0.5)
        f["dur_ms"] = 0
    return f


# ---- the two helpers every generated scenario uses (`from ksim.hunt import admin, at`) -------------

def at(sim, ms):
    """Run the simulation up to virtual time `ms` (a fault's start or end)."""
    if sim.now < ms:
        sim.run_for(ms - sim.now)


def admin(call):
    """An admin request (kafka-leader-election): failing is an outcome of the run, not an error of it."""
    import ksim

    try:
        call()
    except ksim.ClusterError as e:
        print(f"admin request failed: {e}")


# ---- running a plan ------------------------------------------------------------------------------

def _lit(v):
    """A Python literal for generated code (dicts keep their order)."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_lit(k)}: {_lit(x)}" for k, x in v.items()) + "}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
        return f"{v:_}"
    return repr(v)


def final_read_code(plan):
    """The final read's lines (after the heal), or []."""
    wl = plan["workload"]
    if not wl.get("final_read"):
        return []
    level = "read_committed" if "transactional.id" in wl["producer_config"] else "read_uncommitted"
    return [f"final = sim.workload({TOPIC!r}, producers=0, consumers=1, duration_ms=8_000, name='final-read', "
            f"consumer_config={{'auto.offset.reset': 'earliest', 'isolation.level': {level!r}}})  # the final read",
            "sim.run_for(10_000)"]


def setup_code(plan):
    """The scenario's first lines: the cluster, the topic, the workload (`sim`, `w`)."""
    wl = plan["workload"]
    lines = [
        f"sim = ksim.Simulation(seed={plan['seed']}, brokers={plan['brokers']}, controllers={plan['controllers']}, "
        + (f"config=dict({_lit(plan['broker_config'])}, **config))" if plan.get("broker_config") else "config=config)"),
        f"sim.create_topic({TOPIC!r}, partitions={plan['topic']['partitions']}, "
        f"replication_factor={plan['topic']['replication_factor']}, config={_lit(plan['topic']['config'])})",
    ]
    args = [f"producers={wl['producers']}", f"consumers={wl['consumers']}", f"rate_per_s={wl['rate_per_s']}",
            f"duration_ms={_lit(wl['duration_ms'])}", f"key_space={wl['key_space']}",
            f"producer_config={_lit(wl['producer_config'])}"]
    if wl["consumers"]:
        args += [f"consumer_config={_lit(wl['consumer_config'])}", f"commit={wl['commit']!r}"]
        if wl.get("processing_us_per_record"):
            args.append(f"processing_us_per_record={_lit(wl['processing_us_per_record'])}")
    if "transactional.id" in wl["producer_config"]:
        args += [f"transaction_records={wl['transaction_records']}", f"abort_probability={wl['abort_probability']}"]
    lines.append(f"w = sim.workload({TOPIC!r}, " + ",\n                 ".join(args) + ")")
    return lines


class Run:
    """One execution of a plan: resolves each symbolic fault to concrete calls and runs them.

    actions: [{"at_ms", "fault" (index in the plan), "kind", "code"}], in the
    order executed. Running the same actions again (ksim.shrink) gives the same trace."""

    def __init__(self, plan):
        import ksim

        self.plan = plan
        self.actions = []
        self.ns = {"ksim": ksim, "config": {}, "admin": admin, "at": at}
        self.busy = set()      # nodes under a fault
        self.active = []       # (end_ms, fault index, [end code], nodes)
        self.partitioned = False
        self.handles = 0

    # -- the generated code runs in self.ns, as the scenario file will run it
    def do(self, at_ms, fault, kind, code):
        self.actions.append({"at_ms": at_ms, "fault": fault, "kind": kind, "code": code})
        exec(code, self.ns)  # noqa: S102 -- our own generated calls

    def execute(self):
        plan = self.plan
        self.ns["config"] = dict(plan["config"])
        exec("\n".join(setup_code(plan)), self.ns)  # noqa: S102
        sim = self.ns["sim"]
        for i, f in enumerate(plan["faults"]):
            self.end_due(f["at_ms"])
            at(sim, f["at_ms"])
            if len(self.active) >= plan["max_active"] and not f.get("chain"):
                continue
            self.start(i, f)
        self.end_due(plan["run_ms"])
        at(sim, plan["run_ms"])
        # The heal phase starts here: every fault still in force ends now
        # (check() then heals what is left and lets the cluster converge).
        for a in self.active:
            a[0] = plan["run_ms"]
        self.end_due(plan["run_ms"])
        exec("\n".join(final_read_code(plan)), self.ns)  # noqa: S102
        return sim

    def end_due(self, until_ms):
        while True:
            due = [a for a in self.active if a[0] <= until_ms]
            if not due:
                return
            first = min(due, key=lambda a: (a[0], a[1]))
            self.active.remove(first)
            end_ms, i, codes, nodes = first
            at(self.ns["sim"], end_ms)
            for code in codes:
                if isinstance(code, tuple):  # ("if_down", node, code): a restart only of a node that is down
                    _, n, code = code
                    if self.ns["sim"].is_up(n):
                        continue
                self.do(end_ms, i, self.plan["faults"][i]["kind"], code)
            for n in nodes:
                self.busy.discard(n)
            if any(c == "sim.heal()" for c in codes):
                self.partitioned = False

    # -- choosing nodes
    def broker(self, target):
        sim = self.ns["sim"]
        if "follower_of" in target:  # a chain's follower: that one or none
            n = self.follower(target["follower_of"], target["which"])
            return n if n is not None and n not in self.busy and sim.is_up(n) else None
        if "leader" in target:
            infos = self.partitions()
            p = target["leader"] % self.plan["topic"]["partitions"]
            n = infos[p].leader if p < len(infos) else None
            if n is not None and n not in self.busy and sim.is_up(n):
                return n
            target = {"broker": p + 1}
        n = target["broker"]
        for k in range(self.plan["brokers"]):
            c = (n - 1 + k) % self.plan["brokers"] + 1
            if c not in self.busy and sim.is_up(c):
                return c
        return None

    def partitions(self):
        """The topic's partitions as the cluster describes them now ([] while it cannot)."""
        import ksim

        try:
            return self.ns["sim"].describe_topic(TOPIC)
        except ksim.ClusterError:
            return []

    def follower(self, p, which):
        """The first or last replica of partition p (in assignment order) that is not its leader, or None."""
        infos = self.partitions()
        info = infos[p % len(infos)] if infos else None
        if info is None:
            return None
        rest = [b for b in info.replicas if b != info.leader]
        return (rest[0] if which == "first" else rest[-1]) if rest else None

    def controller(self, index):
        ids = list(range(self.plan["brokers"] + 1, self.plan["brokers"] + self.plan["controllers"] + 1))
        c = ids[index % len(ids)]
        return None if c in self.busy or not self.ns["sim"].is_up(c) else c

    def client(self, role, index):
        w = self.ns["w"]
        ids = list(w.producer_ids if role == "producer" else w.consumer_ids)
        return (ids[index % len(ids)], f"w.{role}_ids[{index % len(ids)}]") if ids else (None, None)

    def start(self, i, f):
        kind, t = f["kind"], f["at_ms"]
        end = t + f.get("dur_ms", 0)

        def hold(nodes, start_code, end_codes):
            for code in start_code:
                self.do(t, i, kind, code)
            self.busy.update(nodes)
            if end_codes:
                self.active.append([end, i, end_codes, nodes])

        if kind in ("crash", "power_fail", "shutdown", "pause", "slow_disk", "disk_stall", "disk_full", "partition"):
            n = self.broker(f["target"])
            if n is None or (kind == "partition" and self.partitioned):
                return
            if kind == "crash":
                hold([n], [f"sim.crash({n})"], [("if_down", n, f"sim.restart({n})")])
            elif kind == "power_fail":
                hold([n], [f"sim.power_fail({n}, torn={f['torn']})"], [("if_down", n, f"sim.restart({n})")])
            elif kind == "shutdown":
                hold([n], [f"sim.shutdown({n})"], [("if_down", n, f"sim.restart({n})")])
            elif kind == "pause":
                self.do(t, i, kind, f"sim.pause({n}, {f['dur_ms']})")
            elif kind == "slow_disk":
                hold([n], [f"sim.slow_disk({n}, {f['factor']})"], [f"sim.slow_disk({n}, 1.0)"])
            elif kind == "disk_stall":
                hold([n], [f"sim.disk_stall({n})"], [f"sim.disk_stall({n}, False)"])
            elif kind == "disk_full":
                # A write error halts the broker (its log dir fails): the operator frees space and restarts it.
                hold([n], [f"sim.disk_full({n})"], [f"sim.disk_full({n}, False)", ("if_down", n, f"sim.restart({n})")])
            elif kind == "partition":
                self.partitioned = True
                hold([n], [f"sim.isolate({n})"], ["sim.heal()"])
        elif kind == "one_way":
            n = self.broker(f["target"])
            if n is None:
                return
            if f["to"] == "controller":
                dst = self.plan["brokers"] + 1 + f["to_index"] % self.plan["controllers"]
            elif f["to"] == "broker":
                dst = f["to_index"] % self.plan["brokers"] + 1
            else:
                dst = None
            if dst == n:
                return
            h = self.handle()
            hold([], [f"{h} = sim.network.drop(src={n}, dst={dst}, api=None, direction='any', count=None)"],
                 [f"sim.network.release({h})"])
        elif kind == "msg" or kind in NAMED_MSG:
            self.msg(i, f, t, end, hold)
        elif kind == "controller_crash":
            n = self.controller(f["index"])
            if n is not None:
                hold([n], [f"sim.crash({n})"], [("if_down", n, f"sim.restart({n})")])
        elif kind == "client_crash":  # kill -9 of the application, restarted: a fresh client resumes the workload
            n, expr = self.client(f["role"], f["index"])
            if n is not None and n not in self.busy and self.ns["sim"].is_up(n):
                hold([n], [f"sim.crash({expr})"], [("if_down", n, f"sim.restart({expr})")])
        elif kind == "client_pause":
            n, expr = self.client("consumer", f["index"])
            if n is not None and n not in self.busy and self.ns["sim"].is_up(n):
                self.do(t, i, kind, f"sim.pause({expr}, {f['dur_ms']})")
        elif kind == "unclean":
            sim = self.ns["sim"]
            if any(p.leader is None for p in self.partitions()):
                self.do(t, i, kind, "admin(lambda: sim.elect_leaders(unclean=True))")
        elif kind == "preferred_election":  # kafka-leader-election --election-type preferred
            self.do(t, i, kind, "admin(lambda: sim.elect_leaders())")
        elif kind == "rolling_restart":
            if not self.busy:
                self.do(t, i, kind, f"sim.rolling_restart(controlled={f['controlled']})")

    def handle(self):
        self.handles += 1
        return f"h{self.handles}"

    def msg(self, i, f, t, end, hold):
        role, api, direction = f["role"], f["api"], f["direction"]
        src = dst = None
        if role == "leader":
            src = self.broker({"leader": f["index"]})
            if f.get("to_follower") and f["to_follower"] != src:
                dst = f["to_follower"]
            elif f.get("to_follower_of"):
                dst = self.follower(f["index"], f["to_follower_of"])
                if dst is None or dst == src:
                    return
        elif role == "to_follower_of":
            dst = self.follower(f["index"], f["follower"])
        elif role == "any_broker":
            src = self.broker({"broker": f["index"] % self.plan["brokers"] + 1})
        elif role == "to_broker":
            dst = self.broker({"broker": f["index"] % self.plan["brokers"] + 1})
        elif role == "controller":
            src = self.controller(f["index"])
        elif role in ("producer", "consumer", "to_consumer"):
            n, expr = self.client("producer" if role == "producer" else "consumer", f["index"])
            if n is None:
                return
            if role == "to_consumer":
                dst = expr
            else:
                src = expr
        if src is None and dst is None:
            return
        where = f"src={src}, dst={dst}, api={api!r}, direction={direction!r}"
        count = f["count"]
        h = self.handle()
        if f["action"] == "late":
            hold([], [f"{h} = sim.network.hold({where}, count={count})"], [f"sim.network.release({h})"])
        elif f["action"] == "drop":
            hold([], [f"{h} = sim.network.drop({where}, count={count})"], [f"sim.network.release({h})"])
        elif f["action"] == "duplicate":
            hold([], [f"{h} = sim.network.duplicate({where}, count={count})"], [f"sim.network.release({h})"])
        else:
            hold([], [f"{h} = sim.network.delay({where}, count={count}, extra_ms={f['extra_ms']})"],
                 [f"sim.network.release({h})"])


def judge(sim):
    """check() and the row fields of its verdict."""
    v = sim.check()
    kinds = {}
    for a in v.anomalies:
        k = kinds.setdefault(a.kind, [0, 0])
        k[1 if a.expected else 0] += 1
    return v, kinds


def run_plan(plan):
    """Runs a plan; returns (Run, sim, verdict, kinds)."""
    run = Run(plan)
    sim = run.execute()
    v, kinds = judge(sim)
    return run, sim, v, kinds


def parse_overrides(items):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"ksim hunt: --config takes key=value, not {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def reproduce_command(seed, overrides):
    cfg = "".join(f" --config {k}={v}" for k, v in (overrides or {}).items())
    return f"./ksim hunt --seeds {seed}:{seed}{cfg}"


def hunt_seed(seed, overrides=None):
    """One seed of the hunt, as a sweep row (see ksim.sweep): drawn, run, judged."""
    import ksim

    start = time.perf_counter()
    plan = draw(seed, overrides)
    row = {"seed": seed, "params": {k: plan[k] for k in ("brokers", "controllers", "topic", "workload", "kinds",
                                                        "msg_apis", "interval_ms", "max_active", "config",
                                                        "broker_config")},
           "reproduce": reproduce_command(seed, overrides), "error": "", "kinds": {}, "probes": {},
           "trace_hash": "", "verdict": "-", "ok": False}
    sim = None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # a seed's story stays in its own run
            run, sim, v, kinds = run_plan(plan)
        row["params"]["faults_run"] = len({a["fault"] for a in run.actions})
        row.update(ok=bool(v.ok), verdict="ok" if v.ok else "VIOLATED", kinds=kinds)
    except ksim.KsimError as e:
        row["error"] = f"{type(e).__name__}: {e}"
    if sim is not None:
        row["trace_hash"] = sim.trace_hash()
        row["probes"] = dict(sim.probes())
    row["wall_s"] = time.perf_counter() - start
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ksim hunt", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", help="A:B, inclusive")
    ap.add_argument("--seed", type=int, help="one seed: print its plan and verdict")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scheduler", help="a dask.distributed scheduler address")
    ap.add_argument("--db", help="the sweep database (SQLite) to write")
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                    help="broker configuration for every seed (e.g. a history switch or ksim.bug.*)")
    ap.add_argument("--script", help="with --seed: write the seed's run as a scenario file")
    ap.add_argument("--plan", action="store_true", help="with --seed: print the drawn plan as JSON")
    args = ap.parse_args(argv)
    overrides = parse_overrides(args.config)
    if args.seed is not None:
        plan = draw(args.seed, overrides)
        if args.plan:
            print(json.dumps(plan, indent=1))
        run, sim, v, kinds = run_plan(plan)
        print(v)
        print(f"seed={args.seed} trace_hash={sim.trace_hash()} faults={len({a['fault'] for a in run.actions})}")
        if args.script:
            from . import shrink

            with open(args.script, "w") as out:
                out.write(shrink.scenario_text(plan, run.actions, kinds, overrides,
                                               origin=f"ksim hunt seed {args.seed}"))
            print(f"scenario: {args.script}")
        return 0 if v.ok else 1
    if not args.seeds:
        ap.error("--seeds A:B (or --seed N) is required")
    import functools

    from . import sweep

    runner = functools.partial(hunt_seed, overrides=overrides)
    command = "ksim hunt " + " ".join(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    try:
        seeds = sweep.parse_seeds(args.seeds)
        rows = sweep.run_sweep(runner, seeds, jobs=args.jobs, scheduler=args.scheduler, db=args.db, target="hunt",
                               command=command)
    except sweep.SweepError as e:  # bad --seeds, --jobs, a database of another sweep: a message, exit 2
        print(f"ksim hunt: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nksim hunt: interrupted{'; ' + args.db + ' keeps the seeds that finished' if args.db else ''}",
              file=sys.stderr)
        return 130
    sweep.print_summary(rows, elapsed=time.perf_counter() - start)
    return sweep.exit_code(rows)  # 0 all ok, 1 a seed failed, 3 a seed did not reproduce its stored hash


if __name__ == "__main__":
    sys.exit(main())
