"""Every replica's log over virtual time, rebuilt from a run store (for ksim.timeline).

The run store keeps each replica's log only as it stood at export (`records`).
A replica's log at an earlier instant is NOT simply a prefix of that: a
follower truncates records a new leader never had (KIP-101/279), an unclean
election or a power failure throws a tail away, and the offsets are then
written again with other records. So the logs are replayed from the simulated
disk, which the kernel trace records:

    disk_write    file=data/orders-0/00000000000000000000.log offset=150 bytes=75
    disk_truncate file=data/orders-0/00000000000000000000.log size=75
    disk_lost     file=...log bytes_lost=N          (a power failure's unsynced tail)

Each write becomes a *run*: the offsets it appended, their leader epoch, the
time it was written and the time it was truncated away (None: still there at
export). The bytes are mapped to offsets through the final log's batch sizes
(`records.batch_size`): a write whose bytes survive to the end covers exactly
the final batches in its byte range, so its offsets and epochs are exact. A
write that was later truncated is not in this replica's final log; for those:

  * if another replica's final log holds batches filling exactly the same
    bytes from the same offset, of no later epoch than the partition's when it
    was written, those are the records (a follower writes its leader's batches
    byte for byte, and Kafka's log matching makes offset + epoch a record's
    identity);
  * else the record count is estimated from the byte count (Kafka's 61-byte
    batch header plus the replica's median bytes per record) and the epoch is
    the partition's leader epoch when it was written (the leader stamps its
    epoch on a batch; a follower copies the leader's batch);
  * either way the run is marked `approx`, and its values are those of the
    client sends acknowledged at those offsets (ops.offset) when there are any.

The trace is a window (the newest 200,000 kernel events). What was written
before the window is taken from the final log, each batch dated by the first
`partition_states` sample whose log end offset covers it (1 s resolution) —
also marked `approx`. Segment deletion (retention) is not modelled.
Pure functions over rows; no ksim import, so it runs without the extension.
"""
import bisect
import re

BATCH_HEADER_BYTES = 61  # Kafka's v2 record batch header
_DATA_FILE = re.compile(r"file=data/(?P<dir>[^/ ]+)/(?P<seg>\d+)\.log ")
_ARG = re.compile(r"(\w+)=(\S+)")


def parse_disk_event(kind, description):
    """(topic, partition, segment_base, args) of a data-log disk event, or None."""
    m = _DATA_FILE.search(description + " ")
    if not m:
        return None
    topic, _, part = m.group("dir").rpartition("-")
    if not topic or not part.isdigit():
        return None
    args = dict(_ARG.findall(description[m.end() - 1:]))
    return topic, int(part), int(m.group("seg")), args


class FinalLayout:
    """One replica's log at export, as byte ranges per segment file."""

    def __init__(self, batches, segment_bases):
        # batches: [(base, last, epoch, size)] sorted by base offset.
        self.by_segment = {}
        bases = sorted(set(segment_bases) | {0})
        for base, last, epoch, size in batches:
            seg = bases[max(0, bisect.bisect_right(bases, base) - 1)]
            self.by_segment.setdefault(seg, [])
            rows = self.by_segment[seg]
            start = rows[-1][1] if rows else 0
            rows.append((start, start + size, base, last, epoch))
        self.sizes = {seg: rows[-1][1] for seg, rows in self.by_segment.items()}
        sizes = [(b[3] - BATCH_HEADER_BYTES) / max(1, b[1] - b[0] + 1) for b in batches]
        sizes.sort()
        self.record_bytes = max(1.0, sizes[len(sizes) // 2]) if sizes else 16.0

    def covering(self, seg, start, end):
        """Final batches whose bytes lie in [start, end) of a segment."""
        rows = self.by_segment.get(seg, [])
        i = bisect.bisect_left([r[0] for r in rows], start)
        out = []
        while i < len(rows) and rows[i][1] <= end:
            out.append(rows[i])
            i += 1
        return out

    def prefix(self, seg, end):
        return [r for r in self.by_segment.get(seg, []) if r[1] <= end]


def _epoch_runs(t_write, batches):
    """Consecutive final batches grouped by epoch: one run per group."""
    runs = []
    for (_, _, base, last, epoch) in batches:
        if runs and runs[-1]["epoch"] == epoch and runs[-1]["last"] + 1 == base:
            runs[-1]["last"] = last
        else:
            runs.append({"t": t_write, "end": None, "base": base, "last": last, "epoch": epoch, "approx": False})
    return runs


def replay_replica(disk_events, layout, epoch_at, window_start_ms, first_covering_ms, peers=()):
    """The runs of one replica.

    disk_events: [(t_ms, kind, segment_base, args)] in time order;
    peers: the other replicas' FinalLayouts (a follower writes its leader's batches byte for byte);
    epoch_at(t) -> the partition's leader epoch at t;
    first_covering_ms(offset) -> when a sample first showed this replica past `offset`.
    """
    disk_events = _losses_as_truncations(disk_events)
    # Pass 1, backwards: does each write's byte range survive to the export?
    floor = dict(layout.sizes)  # per segment: the smallest size it has from here on
    survives = [False] * len(disk_events)
    for i in range(len(disk_events) - 1, -1, -1):
        t, kind, seg, args = disk_events[i]
        if kind == "disk_write":
            end = int(args.get("offset", 0)) + int(args.get("bytes", 0))
            survives[i] = end <= floor.get(seg, 0)
        else:
            floor[seg] = min(floor.get(seg, 0), int(args.get("size", 0)))
    # What was on disk before the trace window began, from the final log.
    runs = []
    alive = {}  # segment -> [(byte_start, byte_end, run)]
    first_pos = {}
    for t, kind, seg, args in disk_events:
        if seg not in first_pos:
            first_pos[seg] = int(args.get("offset", args.get("size", 0)))
    for seg in sorted(layout.by_segment):
        upto = first_pos.get(seg, layout.sizes[seg])
        for row in layout.prefix(seg, upto):
            t = max(0.0, min(window_start_ms, first_covering_ms(row[3])))
            for r in _epoch_runs(t, [row]):
                r["approx"] = window_start_ms > 0
                runs.append(r)
                alive.setdefault(seg, []).append((row[0], row[1], r))
    # Pass 2, forwards: append runs, end them on truncation.
    for i, (t, kind, seg, args) in enumerate(disk_events):
        segs = alive.setdefault(seg, [])
        if kind == "disk_write":
            start = int(args.get("offset", 0))
            end = start + int(args.get("bytes", 0))
            _cut(segs, start, t)
            covered = layout.covering(seg, start, end) if survives[i] else []
            if covered and covered[0][0] == start and covered[-1][1] == end:
                new = _epoch_runs(t, covered)
                spans = [(row[0], row[1]) for row in covered]
                for r in new:  # byte span of each epoch group
                    rows = [s for s, row in zip(spans, covered) if r["base"] <= row[2] <= r["last"]]
                    segs.append((rows[0][0], rows[-1][1], r))
                    runs.append(r)
            else:
                base = _leo(alive, seg)
                peer = _peer_batches(peers, seg, start, end, base, epoch_at(t))
                if peer:  # the same bytes at the same place in another replica's log: its batches
                    for r in _epoch_runs(t, peer):
                        r["approx"] = True
                        segs.append((start, end, r))
                        runs.append(r)
                else:
                    count = max(1, round((end - start - BATCH_HEADER_BYTES) / layout.record_bytes))
                    r = {"t": t, "end": None, "base": base, "last": base + count - 1, "epoch": epoch_at(t),
                         "approx": True}
                    segs.append((start, end, r))
                    runs.append(r)
        else:
            _cut(segs, int(args.get("size", 0)), t)
    for r in runs:
        r["lost"] = r["end"] is not None  # truncated away: records nobody kept
    return runs


def _losses_as_truncations(disk_events):
    """A power failure's `disk_lost ... bytes_lost=N` as the truncation it amounts to
    (the file's size, followed forward through the writes, minus N)."""
    sizes, out = {}, []
    for t, kind, seg, args in disk_events:
        if kind == "disk_write":
            end = int(args.get("offset", 0)) + int(args.get("bytes", 0))
            sizes[seg] = max(sizes.get(seg, 0), end)
        elif kind == "disk_truncate":
            sizes[seg] = int(args.get("size", 0))
        else:
            sizes[seg] = max(0, sizes.get(seg, 0) - int(args.get("bytes_lost", 0)))
            kind, args = "disk_truncate", {"size": str(sizes[seg])}
        out.append((t, kind, seg, args))
    return out


def _peer_batches(peers, seg, start, end, base, epoch):
    """Batches of another replica's final log filling exactly [start, end) of a segment,
    starting at offset `base`, of no epoch newer than `epoch` (the partition's epoch when
    the write happened: a batch of a later epoch did not exist yet — it is a different
    record of the same size). Same offset and epoch means the same record (Kafka's log
    matching), so such batches are what this replica wrote. None when no replica has them."""
    for peer in peers:
        cov = peer.covering(seg, start, end)
        if (cov and cov[0][0] == start and cov[-1][1] == end and cov[0][2] == base
                and max(row[4] for row in cov) <= epoch):
            return cov
    return None


def _cut(segs, size, t):
    """End every alive run with bytes at or past `size`."""
    while segs and segs[-1][1] > size:
        segs[-1][2]["end"] = t
        segs.pop()


def _leo(alive, seg):
    segs = alive.get(seg)
    if segs:
        return segs[-1][2]["last"] + 1
    return seg


def leo_series(runs):
    """[(t, log end offset)] of a replica from its runs (a step function)."""
    changes = []
    for r in runs:
        changes.append((r["t"], 1, r))
        if r["end"] is not None:
            changes.append((r["end"], 0, r))
    changes.sort(key=lambda c: (c[0], c[1]))
    # A truncation ends a suffix of what is alive, so the alive runs form a
    # stack in write order and the log end is the top's last offset + 1.
    stack, dead = [], set()
    out = []
    for t, is_add, r in changes:
        if is_add:
            stack.append(r)
        else:
            dead.add(id(r))
        while stack and id(stack[-1]) in dead:
            stack.pop()
        leo = stack[-1]["last"] + 1 if stack else 0
        if out and out[-1][0] == t:
            out[-1] = (t, leo)
        elif not out or out[-1][1] != leo:
            out.append((t, leo))
    return out
