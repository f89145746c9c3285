"""Random faults scheduled from the seed (Jepsen's nemesis).

    sim.nemesis(ksim.nemesis.Random(kinds=["crash", "partition"], interval_ms=2_000))
    sim.run_for(30_000)          # a fault starts or ends every 2 s of virtual time
    verdict = sim.check()        # the heal phase stops the nemesis first

Kinds: crash, power_fail, partition, pause, disk_stall, slow_disk, starve
(a leader's Fetch responses are held, so followers fall behind while it still
acknowledges). At most `max_active` faults are in force at once: 1 keeps an
RF=3, min.insync.replicas=2 cluster available; 2 lets the ISR shrink to one.
"""

KINDS = ("crash", "power_fail", "partition", "pause", "disk_stall", "slow_disk", "starve")


class Random:
    """A nemesis that, every `interval_ms`, starts a random fault of `kinds` or ends one in force."""

    def __init__(self, kinds=("crash", "partition", "pause", "starve"), interval_ms=2_000, max_active=1):
        kinds = list(kinds)
        for k in kinds:
            if k not in KINDS:
                from ._ksim import KsimError
                raise KsimError(f"unknown nemesis kind {k!r} (known: {', '.join(KINDS)})")
        if interval_ms <= 0:
            from ._ksim import KsimError
            raise KsimError("nemesis interval_ms must be positive")
        if int(max_active) < 1:
            from ._ksim import KsimError
            raise KsimError("nemesis max_active must be at least 1")
        self.kinds = kinds
        self.interval_ms = int(interval_ms)
        self.max_active = int(max_active)

    def attach(self, sim):
        sim.start_nemesis(self.kinds, self.interval_ms, self.max_active)

    def __repr__(self):
        return f"ksim.nemesis.Random(kinds={self.kinds!r}, interval_ms={self.interval_ms}, max_active={self.max_active})"
