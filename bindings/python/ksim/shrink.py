"""ksim shrink: a failing hunt seed becomes the smallest scenario that still fails the same way.

    ksim shrink hunt.db --seed 17 [--out shrunk.py]           # a seed of a sweep database
    ksim shrink --seed 17 --config ksim.bug.read.past.hw=true   # a hunt seed given directly

The seed's run is replayed with ksim.hunt and its fault schedule becomes
explicit: each fault is the concrete calls it made (`sim.crash(2)` at
t=3.1 s, `sim.restart(2)` at t=6.1 s). First the shortest failing prefix of
the schedule (binary search), then delta debugging (Zeller's ddmin,
then one-at-a-time passes, then pairs and triples of faults that only matter
together) removes faults, shortens each fault's window,
ends the run sooner, and reduces the records, clients, partitions and
brokers — keeping a change only while the checkers still report a VIOLATION
of the same anomaly kind. Every candidate is run as the scenario text it
would print, so what is printed is exactly what was judged. The result is a
scenario file shaped like those of `scenarios/`: `story(config)` runs the
schedule, `scenario(seed)` returns False while the anomaly reproduces (so
`ksim run` exits 1), and its BUG dict holds the setting the hunt ran with
(`{}` runs the fixed engine).
"""
import argparse
import json
import sys
import time

from . import hunt


# ---- a candidate: the setup (plan fields) and the explicit fault schedule -------------------------

def faults_of(actions):
    """Group the recorded actions by fault: [[action, ...], ...] in the order the faults started."""
    groups, index = [], {}
    for a in actions:
        if a["fault"] not in index:
            index[a["fault"]] = len(groups)
            groups.append([])
        groups[index[a["fault"]]].append(dict(a))
    return groups


def schedule_lines(plan, faults):
    """The fault calls, in time order, as `at(sim, T); call` lines."""
    events = []
    for k, group in enumerate(faults):
        for j, a in enumerate(group):
            events.append((a["at_ms"], k, j, a))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    lines = []
    for t, k, j, a in events:
        note = f"  # fault {k + 1}: {a['kind']}" + (" ends" if j else "")
        lines.append(f"at(sim, {hunt._lit(t)}); {a['code']}{note}")
    lines.append(f"at(sim, {hunt._lit(plan['run_ms'])})")
    return lines + hunt.final_read_code(plan)


def scenario_text(plan, actions, kinds, overrides, origin, kind=None, header=""):
    """A scenario file (the shape of scenarios/) that runs `plan`'s setup and these actions."""
    faults = actions if actions and isinstance(actions[0], list) else faults_of(actions)
    violated = sorted(k for k, (n, _e) in (kinds or {}).items() if n)
    kind = kind or (violated[0] if violated else None)
    setting = ", ".join(f"{k}={v}" for k, v in (overrides or {}).items()) or "every fix on"
    body = "\n".join("    " + line for line in hunt.setup_code(plan) + schedule_lines(plan, faults))
    doc = (f'"""{origin} ({setting}): {kind or "no violation"}.\n\n'
           f"{header}"
           f"`story(BUG)` runs the schedule below and the checkers report `{kind}`;\n"
           f"`story({{}})` runs it on the fixed engine. `ksim run` exits 1 while the anomaly\n"
           f"reproduces. The run is this file's own (seed {plan['seed']}): ksim run's --seed is not used.\n"
           '"""')
    return f'''{doc}
import ksim
from ksim.hunt import admin, at  # at(sim, T): run to virtual time T; admin(call): a request that may fail

BUG = {hunt._lit(dict(overrides or {}))}  # the setting the hunt ran with; {{}} runs the fixed engine
KIND = {kind!r}


def story(config):
{body}
    v = sim.check()
    print(v)
    return v


def scenario(seed: int) -> bool:
    v = story(BUG)
    return not any(a.kind == KIND for a in v.violations)


if __name__ == "__main__":
    ksim.main(scenario)
'''


def run_text(text, config):
    """Runs a scenario text's story(config); returns (verdict, simulation)."""
    import ksim

    ns = {"__name__": "ksim_shrunk"}
    exec(compile(text, "<shrunk scenario>", "exec"), ns)  # noqa: S102 -- our own generated scenario
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        v = ns["story"](config)
    return v, ksim.last_simulation()


class Shrinker:
    """Delta debugging over a hunt seed's explicit schedule and setup."""

    def __init__(self, plan, actions, kind, overrides, budget_s=110, log=None):
        self.plan = json.loads(json.dumps(plan))
        self.faults = faults_of(actions)
        self.kind = kind
        self.overrides = dict(overrides or {})
        self.deadline = time.perf_counter() + budget_s
        self.runs = 0
        self.log = log or (lambda msg: None)

    def text(self, plan=None, faults=None):
        return scenario_text(plan or self.plan, faults if faults is not None else self.faults, None,
                             self.overrides, "shrunk", kind=self.kind)

    def fails(self, plan, faults):
        """Whether this candidate still shows a violation of the kind."""
        import ksim

        self.runs += 1
        try:
            v, _ = run_text(self.text(plan, faults), self.overrides)
        except (ksim.KsimError, IndexError, KeyError, NameError):
            return False  # a removed client or broker the schedule names: not this candidate
        return any(a.kind == self.kind for a in v.violations)

    def out_of_time(self):
        return time.perf_counter() > self.deadline

    def try_change(self, plan=None, faults=None):
        plan = self.plan if plan is None else plan
        faults = self.faults if faults is None else faults
        if self.out_of_time() or not self.fails(plan, faults):
            return False
        self.plan, self.faults = plan, faults
        return True

    # -- the passes
    def remove_faults(self):
        """ddmin: remove chunks of faults, halving the chunk size down to one."""
        n = 2
        while len(self.faults) >= 1 and not self.out_of_time():
            size = max(1, len(self.faults) // n)
            removed = False
            for start in range(0, len(self.faults), size):
                candidate = self.faults[:start] + self.faults[start + size:]
                if self.try_change(faults=candidate):
                    self.log(f"  removed {size} fault(s): {len(self.faults)} left")
                    n = max(n - 1, 2)
                    removed = True
                    break
            if not removed:
                if size == 1:
                    return
                n = min(n * 2, len(self.faults))

    def keep_prefix(self):
        """The shortest prefix of the schedule that still fails, by binary search
        (log2(n) runs): faults after the ones that caused an anomaly are mostly
        noise, and removing them all at once keeps the run before them intact —
        one-at-a-time removal of an early fault moves every later event."""
        lo, hi = 0, len(self.faults)  # faults[:hi] fails
        while lo < hi and not self.out_of_time():
            mid = (lo + hi) // 2
            if self.fails(self.plan, self.faults[:mid]):
                hi = mid
            else:
                lo = mid + 1
        if hi < len(self.faults):
            self.faults = self.faults[:hi]
            self.log(f"  kept the first {hi} fault(s)")

    def remove_combinations(self, max_k=3):
        """Faults that only matter together: try removing every pair, then every
        triple (timing is chaotic: removing one fault moves every later event,
        so ddmin's one-at-a-time can stop at a local minimum). Restarts ddmin
        after each success; bounded by the time budget."""
        import itertools

        k = 2
        while k <= max_k and k <= len(self.faults) and not self.out_of_time():
            for drop in itertools.combinations(range(len(self.faults)), k):
                if self.out_of_time():
                    return
                candidate = [g for j, g in enumerate(self.faults) if j not in drop]
                if self.try_change(faults=candidate):
                    self.log(f"  removed {k} faults together: {len(self.faults)} left")
                    self.remove_faults()
                    k = 2
                    break
            else:
                k += 1

    def shorten_windows(self):
        """Bring each fault's end closer to its start (halving), while the anomaly stays."""
        for k in range(len(self.faults)):
            for _ in range(4):
                group = self.faults[k]
                if len(group) < 2 or self.out_of_time():
                    break
                start, end = group[0]["at_ms"], group[-1]["at_ms"]
                if end - start < 100:
                    break
                new_end = start + (end - start) // 2
                candidate = [list(g) for g in self.faults]
                candidate[k] = [dict(a, at_ms=new_end) if j else a for j, a in enumerate(group)]
                if not self.try_change(faults=candidate):
                    break

    def shorten_run(self):
        last = max((a["at_ms"] for g in self.faults for a in g), default=0)
        for target in (last + 1_000, last + 3_000):
            if target < self.plan["run_ms"]:
                plan = json.loads(json.dumps(self.plan))
                plan["run_ms"] = target
                plan["workload"]["duration_ms"] = min(plan["workload"]["duration_ms"], target)
                if self.try_change(plan=plan):
                    return

    def reduce_setup(self):
        """Fewer records, clients, partitions and brokers, one change at a time."""
        def variant(edit):
            plan = json.loads(json.dumps(self.plan))
            edit(plan)
            return plan

        wl = self.plan["workload"]
        changes = []
        for rate in (wl["rate_per_s"] // 4, wl["rate_per_s"] // 2):
            if rate >= 10:
                changes.append(("rate", lambda p, r=rate: p["workload"].update(rate_per_s=r)))
        if wl["producers"] > 1:
            changes.append(("producers", lambda p: p["workload"].update(producers=1)))
        if wl.get("final_read"):
            changes.append(("final read", lambda p: p["workload"].update(final_read=False)))
        if wl.get("processing_us_per_record"):
            changes.append(("processing time", lambda p: p["workload"].update(processing_us_per_record=0)))
        for c in range(wl["consumers"]):
            changes.append(("consumers", lambda p, c=c: p["workload"].update(consumers=c)))
        for n in range(1, self.plan["topic"]["partitions"]):
            changes.append(("partitions", lambda p, n=n: p["topic"].update(partitions=n)))
        for b in range(max(self.plan["topic"]["replication_factor"], 2), self.plan["brokers"]):
            changes.append(("brokers", lambda p, b=b: p.update(brokers=b)))
        if self.plan["controllers"] > 1:
            changes.append(("controllers", lambda p: p.update(controllers=1)))
        done = set()
        for what, edit in changes:
            if what in done or self.out_of_time():
                continue
            if self.try_change(plan=variant(edit)):
                done.add(what)  # the smallest that worked first (they are listed smallest first)
                self.log(f"  reduced {what}")

    def shrink(self):
        self.keep_prefix()
        self.remove_faults()
        self.shorten_run()
        self.reduce_setup()
        self.shorten_windows()
        self.remove_faults()
        self.remove_combinations()
        return self.plan, self.faults


def records_of(plan):
    wl = plan["workload"]
    return int(wl["rate_per_s"] * min(wl["duration_ms"], plan["run_ms"]) / 1000)


def shrink_seed(seed, overrides, out=None, budget_s=110, expect_hash=None, log=print):
    """Shrinks one hunt seed; writes the scenario to `out`; returns a dict of figures."""
    t0 = time.perf_counter()
    plan = hunt.draw(seed, overrides)
    run, sim, v, kinds = hunt.run_plan(plan)
    if expect_hash and sim.trace_hash() != expect_hash:
        raise SystemExit(f"ksim shrink: seed {seed} does not reproduce: trace hash {sim.trace_hash()}, "
                         f"the database has {expect_hash}")
    violated = [a.kind for a in v.violations]
    if not violated:
        raise SystemExit(f"ksim shrink: seed {seed} shows no violation with "
                         f"{overrides or 'every fix on'}; nothing to shrink")
    kind = violated[0]
    faults_before = len(faults_of(run.actions))
    records_before = records_of(plan)
    log(f"seed {seed}: {kind}; {faults_before} faults, ~{records_before} records; shrinking")
    s = Shrinker(plan, run.actions, kind, overrides, budget_s=budget_s, log=log)
    if not s.fails(s.plan, s.faults):
        raise SystemExit(f"ksim shrink: seed {seed}'s explicit schedule does not reproduce {kind} "
                         "(a fault whose effect depends on the run's own choices); cannot shrink it")
    new_plan, new_faults = s.shrink()
    text = scenario_text(new_plan, new_faults, None, overrides, f"Shrunk by `ksim shrink` from ksim hunt seed {seed}",
                         kind=kind)
    final, _ = run_text(text, overrides)
    assert any(a.kind == kind for a in final.violations), "the printed scenario must reproduce the anomaly"
    fixed_ok = None
    if overrides:
        fixed, _ = run_text(text, {})
        fixed_ok = not any(a.kind == kind for a in fixed.violations)
    figures = {"seed": seed, "kind": kind, "faults_before": faults_before, "faults_after": len(new_faults),
               "records_before": records_before, "records_after": records_of(new_plan), "runs": s.runs,
               "shrink_wall_s": round(time.perf_counter() - t0, 1), "fixed_engine_ok": fixed_ok}
    header = (f"Faults {faults_before} -> {len(new_faults)}, records ~{records_before} -> ~{records_of(new_plan)}, "
              f"{s.runs} runs in {figures['shrink_wall_s']} s.\n\n")
    text = scenario_text(new_plan, new_faults, None, overrides,
                         f"Shrunk by `ksim shrink` from ksim hunt seed {seed}", kind=kind, header=header)
    if out:
        with open(out, "w") as f:
            f.write(text)
    return figures, text


def seed_from_db(path, seed):
    """(overrides, trace hash) of a hunt seed in a sweep database (read by ksim.sweep)."""
    from . import sweep

    try:
        rows, meta, _mismatches = sweep.load_rows(path)
    except sweep.SweepError as e:
        raise SystemExit(f"ksim shrink: {e}")
    row = next((r for r in rows if r["seed"] == seed), None)
    if row is None:
        raise SystemExit(f"ksim shrink: seed {seed} is not in {path}")
    if meta.get("target") != "hunt":
        raise SystemExit(f"ksim shrink: seed {seed} of {path} ran {meta.get('target')!r}; only hunt seeds can be "
                         "shrunk (a scenario file's faults are its own code)")
    return dict(row["params"].get("config", {})), row["trace_hash"]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ksim shrink", description=__doc__.splitlines()[0])
    ap.add_argument("db", nargs="?", help="a sweep database written by `ksim hunt --db`")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                    help="without a database: the hunt's broker configuration")
    ap.add_argument("--out", help="the scenario file to write (default: shrunk-<seed>.py)")
    ap.add_argument("--budget-s", type=float, default=110, help="wall-time budget of the search")
    args = ap.parse_args(argv)
    expect = None
    if args.db:
        overrides, expect = seed_from_db(args.db, args.seed)
        overrides.update(hunt.parse_overrides(args.config))
    else:
        overrides = hunt.parse_overrides(args.config)
    out = args.out or f"shrunk-{args.seed}.py"
    figures, _ = shrink_seed(args.seed, overrides, out=out, budget_s=args.budget_s, expect_hash=expect)
    for k, v in figures.items():
        print(f"{k}={v}")
    print(f"scenario: {out}   (./ksim run {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
