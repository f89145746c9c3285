"""Seed sweeps that scale and remember: one target over many seeds, in parallel
(Dask), every seed's result kept in a SQLite database.

    ksim sweep scenarios/acks1_leader_crash.py --seeds 1:200 --jobs 2 --db sweep.db
    ksim sweep FILE.py --seeds 1:10000 --scheduler tcp://host:8786 --db sweep.db   # a dask.distributed cluster
    ksim sweep --report sweep.db          # the table again, grouped by anomaly kind, and the probe coverage
    python3 -m ksim.sweep ...             # what the CLI runs (same arguments)

Each seed runs `scenario(seed)` of the file in a worker process: local Dask
processes by default (--jobs of them; --jobs 1 runs in this process), or the
workers of a dask.distributed scheduler (--scheduler) for sweeps over many
machines. While it runs, a progress line on stderr (seeds done, seeds/s,
failures); at the end the table, FAILING seeds first, each with the command
reproducing it, and the probe coverage: how many of the catalogued coverage
probes (probe_catalog(): every literal `probe("...")` name in the engine's
source) fired at least once, the most fired, and the ones that never fired.

With --db, each result is written as it arrives (a killed sweep keeps what it
finished) to these tables:

    runs       seed (key), target, params (JSON), ok (0/1: as expected),
               verdict ('ok' / 'VIOLATED' / '-' when the run never checked),
               kinds (JSON: anomaly kind -> [violations, expected]),
               trace_hash, wall_s, error ('' or "Type: message"), reproduce
    probes     seed, name, count (the coverage probes the seed fired)
    metadata   key, value: format, target, command, version, created
    mismatches seed, stored_hash, new_hash, stored_params, new_params, command, at

Same seed, same run: re-running a seed already in the database compares its
trace hash with the stored one; a difference is reported loudly (the seed and
both hashes), recorded in `mismatches` (the stored row is kept) and makes the
exit status 3. Exit status: 0 every seed as expected, 1 some seed not, 2 a bad
command line or database, 3 a seed that did not reproduce, 130 interrupted.

Other sweeps (ksim.hunt's swarm workload) reuse the core: run_sweep(runner,
seeds, ...) with any picklable `runner(seed) -> dict` returning the keys of
ROW_KEYS, then print_summary(rows) and exit_code(rows); report(db) reads a
database back.
"""
import argparse
import contextlib
import datetime
import functools
import importlib.util
import io
import json
import os
import shlex
import sqlite3
import sys
import time
import urllib.parse

ROW_KEYS = ("seed", "ok", "verdict", "kinds", "trace_hash", "wall_s", "error", "params", "probes", "reproduce")
FORMAT = "ksim-sweep 1"

# Exit statuses of main().
EXIT_OK, EXIT_FAILING, EXIT_USAGE, EXIT_MISMATCH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
  seed INTEGER PRIMARY KEY, target TEXT NOT NULL, params TEXT NOT NULL, ok INTEGER NOT NULL,
  verdict TEXT NOT NULL, kinds TEXT NOT NULL, trace_hash TEXT NOT NULL, wall_s REAL NOT NULL,
  error TEXT NOT NULL, reproduce TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS probes (
  seed INTEGER NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (seed, name));
CREATE TABLE IF NOT EXISTS mismatches (
  seed INTEGER NOT NULL, stored_hash TEXT NOT NULL, new_hash TEXT NOT NULL,
  stored_params TEXT NOT NULL, new_params TEXT NOT NULL, command TEXT NOT NULL, at TEXT NOT NULL);
"""


class SweepError(Exception):
    """A bad command line or database: main() prints "ksim sweep: <message>" and exits 2."""


# ---- the probe catalogue ------------------------------------------------------------------------

def probe_catalog():
    """Every coverage probe name in the engine's source: name -> ["file:line", ...], sorted by name.

    The build writes it (bindings/probe_catalog.py scans engine/ and sim/ for
    `probe("...")` literals) next to this module. Names built at run time are
    not in it. Empty when the file is missing (a source checkout, not a build)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe_catalog.txt")
    out = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                name, _, sites = line.rstrip("\n").partition("\t")
                if name:
                    out[name] = sites.split()
    except OSError:
        return {}
    return out


# ---- the per-seed runner of a scenario file -----------------------------------------------------

def _load(file):
    spec = importlib.util.spec_from_file_location("ksim_scenario", file)
    if spec is None or spec.loader is None:
        raise SweepError(f"cannot load scenario file {file!r}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    if not callable(getattr(mod, "scenario", None)):
        raise SweepError(f"{file} defines no scenario(seed) function")
    return mod


def _verdict_fields(sim):
    """verdict, kinds, trace_hash, probes of a simulation (the last one a seed created)."""
    if sim is None:
        return "-", {}, "", {}
    v = sim.last_verdict
    kinds = {} if v is None else {k: [int(n[0]), int(n[1])] for k, n in v.counts().items()}
    verdict = "-" if v is None else ("ok" if v.ok else "VIOLATED")
    return verdict, kinds, sim.trace_hash(), dict(sim.probes())


class ScenarioRunner:
    """runner(seed) -> row for a scenario file: imports it afresh and calls its
    scenario(seed) (stdout swallowed). Picklable (it holds two strings), so Dask
    ships it to worker processes and machines. `shown` is the path as typed,
    for the reproduce command; the file itself is opened by absolute path."""

    def __init__(self, file, shown=None):
        self.file = os.path.abspath(file)
        self.shown = file if shown is None else shown

    def __repr__(self):
        return f"ScenarioRunner({self.shown!r})"

    def __call__(self, seed):
        import ksim

        ksim._last_simulation = None  # a worker process is reused: never report the previous seed's run
        start = time.perf_counter()
        error = ""
        try:
            mod = _load(self.file)
            with contextlib.redirect_stdout(io.StringIO()):
                ok = bool(mod.scenario(seed))
        except Exception as e:  # a crashing scenario is a failing seed, with its error
            ok, error = False, f"{type(e).__name__}: {e}"
        wall_s = time.perf_counter() - start
        verdict, kinds, trace_hash, probes = _verdict_fields(ksim.last_simulation())
        ksim._last_simulation = None
        return {
            "seed": seed, "ok": ok, "verdict": verdict, "kinds": kinds, "trace_hash": trace_hash,
            "wall_s": wall_s, "error": error, "params": {}, "probes": probes,
            "reproduce": f"./ksim run {shlex.quote(self.shown)} --seed {seed}",
        }


def scenario_runner(file):
    """The picklable per-seed runner of a scenario file (see ScenarioRunner)."""
    return ScenarioRunner(file)


def run_seed(file, seed):
    """One seed of a scenario file in this process: its row (see ROW_KEYS)."""
    return ScenarioRunner(file)(seed)


# ---- rows ---------------------------------------------------------------------------------------

def _crash_row(seed, why):
    return {"seed": seed, "ok": False, "verdict": "-", "kinds": {}, "trace_hash": "", "wall_s": 0.0,
            "error": why, "params": {}, "probes": {}, "reproduce": ""}


def _call(runner, seed):
    """What a worker runs: runner(seed), or the row of the exception it raised."""
    start = time.perf_counter()
    try:
        return runner(seed)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: B902 — SystemExit from a scenario is a failing seed too
        row = _crash_row(seed, f"{type(e).__name__}: {e}")
        row["wall_s"] = time.perf_counter() - start
        return row


def normalize(row, seed):
    """A runner's dict as a complete row of ROW_KEYS with the documented types."""
    if not isinstance(row, dict):
        return _crash_row(seed, f"the runner returned {type(row).__name__}, not a dict")
    out = _crash_row(seed, "")
    out.update({k: row[k] for k in ROW_KEYS if k in row and row[k] is not None})
    if out["seed"] != seed:
        out["error"] = (str(out["error"]) + "; " if out["error"] else "") + f"the runner answered for seed {out['seed']}"
        out["seed"], out["ok"] = seed, False
    try:
        out["ok"] = bool(out["ok"])
        out["verdict"] = str(out["verdict"])
        out["kinds"] = {str(k): [int(v[0]), int(v[1])] for k, v in dict(out["kinds"]).items()}
        out["probes"] = {str(k): int(v) for k, v in dict(out["probes"]).items()}
        out["params"] = dict(out["params"])
        out["trace_hash"], out["error"] = str(out["trace_hash"]), str(out["error"])
        out["reproduce"], out["wall_s"] = str(out["reproduce"]), float(out["wall_s"])
    except (TypeError, ValueError, IndexError) as e:
        return _crash_row(seed, f"the runner returned a malformed row ({type(e).__name__}: {e})")
    return out


def _json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def exit_code(rows):
    """3 if a seed did not reproduce its stored hash, else 1 if a seed was not as expected, else 0."""
    if any(r.get("mismatch") for r in rows):
        return EXIT_MISMATCH
    return EXIT_FAILING if any(not r["ok"] for r in rows) else EXIT_OK


# ---- the database -------------------------------------------------------------------------------

def _same_target(a, b):
    if a == b:
        return True
    return a.endswith(".py") and b.endswith(".py") and os.path.basename(a) == os.path.basename(b)


def _connect_ro(path):
    if not os.path.exists(path):
        raise SweepError(f"cannot read sweep database {path!r}")
    if os.path.isdir(path) or not os.access(path, os.R_OK):
        raise SweepError(f"cannot read sweep database {path!r}")
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    _check_format(con, path)
    return con


def _check_format(con, path):
    try:
        tables = {n for (n,) in con.execute("select name from sqlite_master where type = 'table'")}
        fmt = dict(con.execute("select key, value from metadata")).get("format") if "metadata" in tables else None
    except sqlite3.DatabaseError:
        raise SweepError(f"{path} is not a ksim sweep database (not SQLite)") from None
    if fmt != FORMAT or not {"runs", "probes"} <= tables:
        what = " (a ksim run file? it has a 'run' table)" if "run" in tables else ""
        raise SweepError(f"{path} is not a ksim sweep database{what}")
    return tables


class SweepDB:
    """The sweep database being written: one row per seed, committed as each arrives."""

    def __init__(self, path, target, command):
        self.path, self.command = path, command
        if os.path.isdir(path):
            raise SweepError(f"--db {path} is a directory")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise SweepError(f"--db {path}: no such directory {parent}")
        try:
            self.con = sqlite3.connect(path)
            tables = {n for (n,) in self.con.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise SweepError(f"--db {path} is not a ksim sweep database ({e})") from None
        if tables:
            _check_format(self.con, path)
            meta = dict(self.con.execute("select key, value from metadata"))
            if not _same_target(meta.get("target", ""), target):
                raise SweepError(f"--db {path} holds a sweep of {meta.get('target')!r}, not {target!r}: "
                                 "use another database")
        try:
            # WAL + synchronous=NORMAL: a commit per seed without an fsync per
            # seed; a killed sweep still keeps every committed row.
            self.con.execute("pragma journal_mode = wal")
            self.con.execute("pragma synchronous = normal")
            with self.con:
                self.con.executescript(SCHEMA)
                for key, value in (("format", FORMAT), ("target", target), ("command", command),
                                   ("version", _version()), ("created", _now())):
                    self.con.execute("insert or ignore into metadata values (?, ?)", (key, value))
        except sqlite3.DatabaseError as e:
            raise SweepError(f"--db {path}: cannot write ({e})") from None

    def stored(self):
        """seed -> (trace_hash, params JSON) of the rows already there."""
        return {s: (h, p) for s, h, p in self.con.execute("select seed, trace_hash, params from runs")}

    def put(self, row, target):
        with self.con:
            if row.get("mismatch"):
                self.con.execute("insert into mismatches values (?, ?, ?, ?, ?, ?, ?)",
                                 (row["seed"], row["mismatch"], row["trace_hash"], row.get("stored_params", ""),
                                  _json(row["params"]), self.command, _now()))
                return
            self.con.execute("insert or replace into runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (row["seed"], target, _json(row["params"]), int(row["ok"]), row["verdict"],
                              _json(row["kinds"]), row["trace_hash"], row["wall_s"], row["error"], row["reproduce"]))
            self.con.execute("delete from probes where seed = ?", (row["seed"],))
            self.con.executemany("insert into probes values (?, ?, ?)",
                                 [(row["seed"], n, c) for n, c in sorted(row["probes"].items())])

    def close(self):
        self.con.close()


def _version():
    try:
        import ksim

        return f"ksim {ksim.__version__}"
    except Exception:  # an older build without __version__
        return ""


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_rows(db_path):
    """The rows of a sweep database (ROW_KEYS, seed order) and its metadata."""
    con = _connect_ro(db_path)
    try:
        meta = dict(con.execute("select key, value from metadata"))
        probes = {}
        for seed, name, count in con.execute("select seed, name, count from probes order by seed, name"):
            probes.setdefault(seed, {})[name] = count
        rows = []
        for (seed, params, ok, verdict, kinds, trace_hash, wall_s, error, reproduce) in con.execute(
                "select seed, params, ok, verdict, kinds, trace_hash, wall_s, error, reproduce from runs order by seed"):
            rows.append({"seed": seed, "ok": bool(ok), "verdict": verdict, "kinds": json.loads(kinds or "{}"),
                         "trace_hash": trace_hash, "wall_s": wall_s, "error": error, "params": json.loads(params or "{}"),
                         "probes": probes.get(seed, {}), "reproduce": reproduce})
        mismatches = [dict(zip(("seed", "stored_hash", "new_hash", "stored_params", "new_params", "command", "at"), m))
                      for m in con.execute("select * from mismatches order by seed, at")]
    except (sqlite3.DatabaseError, ValueError) as e:
        raise SweepError(f"{db_path}: unreadable sweep database ({e})") from None
    finally:
        con.close()
    return rows, meta, mismatches


# ---- progress -----------------------------------------------------------------------------------

class Progress:
    """seeds done/total, seeds/s, failures: a \\r-updated line on a terminal, else a line per ~10%."""

    def __init__(self, total, stream=None, enabled=True):
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled and total > 0
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.done = self.failures = self.mismatches = 0
        self.start = time.perf_counter()
        self.last_shown = 0.0
        self.last_decile = 0
        self.open_line = False

    def line(self):
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        text = (f"sweep: {self.done}/{self.total} seeds, {self.done / elapsed:.1f} seeds/s, "
                f"{self.failures} failing")
        if self.mismatches:
            text += f", {self.mismatches} HASH MISMATCH"
        return text

    def update(self, row):
        self.done += 1
        self.failures += not row["ok"]
        self.mismatches += bool(row.get("mismatch"))
        if not self.enabled:
            return
        if self.tty:
            now = time.perf_counter()
            if now - self.last_shown >= 0.2 or self.done == self.total:
                self.last_shown = now
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
                self.open_line = True
        else:
            decile = self.done * 10 // self.total
            if decile > self.last_decile:
                self.last_decile = decile
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def say(self, message):
        """A message on its own line (the progress line is redrawn on the next update)."""
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False
        self.stream.write(message + "\n")
        self.stream.flush()

    def finish(self):
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False


# ---- executors ----------------------------------------------------------------------------------

def _run_local(runner, seeds, on_row):
    for seed in seeds:
        on_row(seed, _call(runner, seed))


def _die_with_parent(parent):
    """Worker initializer: a worker ends when the sweep's process does (Linux
    PR_SET_PDEATHSIG), so a killed sweep leaves no idle workers behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except Exception:  # not Linux: workers outlive a SIGKILLed sweep, as with any process pool
        return
    if os.getppid() != parent:  # the sweep died before prctl
        os._exit(1)


def _run_processes(runner, seeds, jobs, on_row):
    """Dask's local `processes` scheduler, one task per seed (chunksize 1), each
    result handed to on_row as it arrives (a posttask callback). A worker that
    dies (a crash in C++) breaks the pool: the seeds it may have been running
    are re-run one at a time, the one that kills its worker again gets a
    failing row, and the sweep goes on with the rest."""
    from concurrent.futures.process import BrokenProcessPool

    import dask.multiprocessing
    from dask.callbacks import Callback

    init = functools.partial(_die_with_parent, os.getpid())
    pending = list(seeds)
    while pending:
        started, finished = set(), set()

        def pretask(key, dsk, state):
            started.add(key[1])

        def posttask(key, result, dsk, state, worker_id):
            finished.add(key[1])
            on_row(key[1], result)

        dsk = {("ksim-seed", s): (_call, runner, s) for s in pending}
        try:
            with Callback(pretask=pretask, posttask=posttask):
                dask.multiprocessing.get(dsk, list(dsk), num_workers=min(jobs, len(pending)), chunksize=1,
                                         initializer=init)
            return
        except BrokenProcessPool:
            pass
        suspects = sorted(started - finished)
        for s in suspects:  # alone, so a death names its seed
            try:
                row = dask.multiprocessing.get({("ksim-seed", s): (_call, runner, s)}, [("ksim-seed", s)],
                                               num_workers=1, initializer=init)[0]
            except BrokenProcessPool:
                row = _crash_row(s, "the worker process died running this seed (a crash or abort in ksim)")
            on_row(s, row)
            finished.add(s)
        pending = [s for s in pending if s not in finished]


def _run_distributed(runner, seeds, scheduler, on_row):
    """The workers of a dask.distributed scheduler; results as they complete."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise SweepError("--scheduler needs dask.distributed (Debian: python3-distributed)") from None
    try:
        client = Client(scheduler, timeout=15)
    except (OSError, TimeoutError, ValueError) as e:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from None
    with client:
        futures = client.map(_call, [runner] * len(seeds), seeds, pure=False)
        seed_of = {f.key: s for f, s in zip(futures, seeds)}
        for fut in as_completed(futures):
            try:
                row = fut.result()
            except Exception as e:  # KilledWorker: the seed took its workers down, again and again
                why = f"{type(e).__name__}: {e}"
                if type(e).__name__ == "KilledWorker":
                    why = f"the worker process died running this seed (a crash or abort in ksim; {type(e).__name__})"
                row = _crash_row(seed_of[fut.key], why)
            on_row(seed_of[fut.key], row)
            fut.release()


# ---- the core -----------------------------------------------------------------------------------

def run_sweep(runner, seeds, *, jobs=2, scheduler=None, db=None, target="", command="", progress=True):
    """Runs runner(seed) for every seed; returns the rows (ROW_KEYS), in seed order.

    runner: a picklable callable seed -> dict (ScenarioRunner, a functools.partial
    of a module-level function, ...). jobs: local worker processes (1: this
    process); scheduler: a dask.distributed address instead. db: a sweep
    database path, written as rows arrive; a seed already there must reproduce
    its stored trace hash, else its row carries "mismatch" (the stored hash) and
    a message goes to stderr. progress: the progress line on stderr."""
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise SweepError("a seed is listed twice")
    if jobs < 1:
        raise SweepError("--jobs must be at least 1")
    store = SweepDB(db, target, command) if db else None
    stored = store.stored() if store else {}
    bar = Progress(len(seeds), enabled=progress)
    rows = {}

    def on_row(seed, raw):
        row = normalize(raw, seed)
        if seed in stored and stored[seed][0] != row["trace_hash"]:
            row["mismatch"], row["stored_params"] = stored[seed]
            why = "" if row["stored_params"] == _json(row["params"]) else \
                f" (its params differ: stored {row['stored_params']}, now {_json(row['params'])})"
            bar.say(f"ksim sweep: HASH MISMATCH: seed {seed} does not reproduce: stored trace hash "
                    f"{row['mismatch']}, this run {row['trace_hash']}{why}")
        if store:
            store.put(row, target)
        rows[seed] = row
        bar.update(row)

    try:
        if scheduler:
            _run_distributed(runner, seeds, scheduler, on_row)
        elif jobs == 1 or len(seeds) <= 1:
            _run_local(runner, seeds, on_row)
        else:
            _run_processes(runner, seeds, jobs, on_row)
    finally:
        bar.finish()
        if store:
            store.close()
    return [rows[s] for s in sorted(rows)]


# ---- printing -----------------------------------------------------------------------------------

def _kinds_text(kinds):
    return " ".join(f"{k} {v}/{e}" for k, (v, e) in sorted(kinds.items()))


def print_summary(rows, *, elapsed=None, out=None, max_ok=40, catalog=None):
    """The table (failing seeds first, each with its reproduce command; at most
    max_ok seeds as expected), hash mismatches, and the probe coverage."""
    print_table(rows, elapsed=elapsed, out=out, max_ok=max_ok)
    print_coverage(rows, out=out, catalog=catalog)


def print_table(rows, *, elapsed=None, out=None, max_ok=40):
    """The rows, failing first (with params, error and reproduce command), the total, and any hash mismatch."""
    out = out or sys.stdout
    failing = sorted((r for r in rows if not r["ok"]), key=lambda r: r["seed"])
    passing = sorted((r for r in rows if r["ok"]), key=lambda r: r["seed"])
    print(f"{'seed':>8}  {'result':<16} {'verdict':<9} {'wall_s':>7}  kinds (violations/expected)", file=out)
    for r in failing + passing[:max_ok]:
        result = "as expected" if r["ok"] else "NOT as expected"
        params = _json(r["params"]) if r["params"] and not r["ok"] else ""  # all of them are in the database
        params = f"  params {params[:117] + '...' if len(params) > 120 else params}" if params else ""
        print(f"{r['seed']:>8}  {result:<16} {r['verdict']:<9} {r['wall_s']:>7.2f}  {_kinds_text(r['kinds'])}{params}",
              file=out)
        if r["error"]:
            print(f"{'':>8}  error: {r['error']}", file=out)
        if not r["ok"] and r["reproduce"]:
            print(f"{'':>8}  reproduce: {r['reproduce']}", file=out)
    if len(passing) > max_ok:
        print(f"{'':>8}  ... and {len(passing) - max_ok} more seeds as expected", file=out)
    took = f" in {elapsed:.1f} s ({len(rows) / max(elapsed, 1e-9):.1f} seeds/s)" if elapsed is not None else ""
    print(f"\n{len(passing)}/{len(rows)} seeds as expected{took}", file=out)
    mismatched = [r for r in rows if r.get("mismatch")]
    for r in mismatched:
        print(f"HASH MISMATCH: seed {r['seed']} does not reproduce: stored trace hash {r['mismatch']}, "
              f"this run {r['trace_hash']}", file=out)
    if mismatched:
        print(f"{len(mismatched)} seed(s) did not reproduce bit for bit: a determinism bug (or a changed "
              "build / scenario since the database was written)", file=out)


def probe_coverage(rows, catalog=None):
    """fired: name -> (hits, seeds), never: catalogued names that never fired, uncatalogued: fired names
    not in the catalogue (built at run time), catalog: the catalogue used."""
    catalog = probe_catalog() if catalog is None else catalog
    fired = {}
    for r in rows:
        for name, count in r["probes"].items():
            if count > 0:
                hits, seeds = fired.get(name, (0, 0))
                fired[name] = (hits + count, seeds + 1)
    return {"fired": fired, "never": [n for n in catalog if n not in fired],
            "uncatalogued": sorted(n for n in fired if n not in catalog), "catalog": catalog}


def print_coverage(rows, *, out=None, catalog=None, top=10):
    out = out or sys.stdout
    cov = probe_coverage(rows, catalog)
    catalog, fired = cov["catalog"], cov["fired"]
    print("", file=out)
    if not catalog:
        print(f"probe coverage: {len(fired)} probes fired over {len(rows)} seeds (no probe catalogue in this "
              "build: the never-fired list needs <build>/python/ksim/probe_catalog.txt)", file=out)
    else:
        hit = len(catalog) - len(cov["never"])
        print(f"probe coverage: {hit}/{len(catalog)} catalogued probes fired at least once over {len(rows)} seeds",
              file=out)
    if fired:
        print(f"  most fired (hits, seeds):", file=out)
        for name, (hits, seeds) in sorted(fired.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]:
            print(f"    {hits:>9}  {seeds:>6}  {name}", file=out)
    if catalog:
        print(f"  never fired ({len(cov['never'])}):", file=out)
        for name in cov["never"]:
            print(f"    {name}  ({' '.join(catalog[name])})", file=out)
    if cov["uncatalogued"]:
        print(f"  fired, not catalogued (names built at run time): {', '.join(cov['uncatalogued'])}", file=out)


def print_kinds(rows, *, out=None):
    """Rows grouped by anomaly kind: seeds, violations, expected, the first seed and its reproduce command.
    Seeds whose run raised are the group '(error)', seeds that never checked '(unchecked)'."""
    out = out or sys.stdout
    groups = {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        for kind, (v, e) in r["kinds"].items():
            g = groups.setdefault(kind, {"seeds": 0, "violations": 0, "expected": 0, "first": None, "first_bad": None})
            g["seeds"] += 1
            g["violations"] += v
            g["expected"] += e
            g["first"] = g["first"] or r
            if v and g["first_bad"] is None:
                g["first_bad"] = r
        special = "(error)" if r["error"] else "(unchecked)" if r["verdict"] == "-" else None
        if special:
            g = groups.setdefault(special, {"seeds": 0, "violations": 0, "expected": 0, "first": None,
                                            "first_bad": None})
            g["seeds"] += 1
            g["first"] = g["first"] or r
            if not r["ok"] and g["first_bad"] is None:
                g["first_bad"] = r
    print("\nby anomaly kind (first seed: the first with a violation, else the first with the kind):", file=out)
    if not groups:
        print("  no anomaly in any seed", file=out)
        return
    width = max(len(k) for k in groups)
    print(f"  {'kind':<{width}}  {'seeds':>6}  {'violations':>10}  {'expected':>8}  {'first':>8}  reproduce", file=out)
    for kind in sorted(groups, key=lambda k: (k.startswith("("), k)):
        g = groups[kind]
        first = g["first_bad"] or g["first"]
        print(f"  {kind:<{width}}  {g['seeds']:>6}  {g['violations']:>10}  {g['expected']:>8}  {first['seed']:>8}  "
              f"{first['reproduce']}", file=out)


def report(db_path, *, out=None):
    """`ksim sweep --report DB`: the database's table (failing seeds first), its
    rows grouped by anomaly kind, recorded hash mismatches, and the probe coverage."""
    out = out or sys.stdout
    rows, meta, mismatches = load_rows(db_path)
    span = f" ({rows[0]['seed']}..{rows[-1]['seed']})" if rows else ""
    print(f"sweep database {db_path}: {meta.get('target', '?')}, {len(rows)} seeds{span}, "
          f"created {meta.get('created', '?')}{', ' + meta['version'] if meta.get('version') else ''}", file=out)
    print(f"command: {meta.get('command', '?')}\n", file=out)
    print_table(rows, out=out)
    print_kinds(rows, out=out)
    for m in mismatches:
        print(f"HASH MISMATCH recorded {m['at']}: seed {m['seed']} stored {m['stored_hash']}, re-run {m['new_hash']} "
              f"({m['command']})", file=out)
    print_coverage(rows, out=out)
    return EXIT_OK


# ---- the command line ---------------------------------------------------------------------------

def parse_seeds(text):
    """'A:B' (inclusive, A <= B, non-negative) -> [A, ..., B]; a SweepError otherwise."""
    a, sep, b = str(text).partition(":")
    if not sep or not a.isdigit() or not b.isdigit():
        raise SweepError(f"--seeds must be A:B with non-negative integers (e.g. 1:100), not {text!r}")
    a, b = int(a), int(b)
    if b < a:
        raise SweepError(f"--seeds {text}: the last seed is before the first")
    if b - a >= 10_000_000:
        raise SweepError(f"--seeds {text}: more than 10,000,000 seeds")
    return list(range(a, b + 1))


def _parser():
    p = argparse.ArgumentParser(prog="ksim sweep", description="Run a scenario over many seeds in parallel; "
                                "keep every seed's result in a database (--db); report one (--report).")
    p.add_argument("file", nargs="?", help="the scenario file (defines scenario(seed))")
    p.add_argument("--seeds", help="seed range A:B, inclusive")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes (1: in this process)")
    p.add_argument("--scheduler", help="a dask.distributed scheduler address, for sweeps over many machines")
    p.add_argument("--db", help="SQLite database keeping every seed's row (created, or added to)")
    p.add_argument("--report", metavar="DB", help="print a sweep database's table, anomaly kinds and coverage")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    try:
        if args.report:
            if args.file or args.seeds or args.db:
                raise SweepError("--report DB takes no scenario file, --seeds or --db")
            return report(args.report)
        if not args.file or not args.seeds:
            raise SweepError("usage: ksim sweep FILE.py --seeds A:B [--jobs N] [--db DB] | ksim sweep --report DB")
        if not os.path.isfile(args.file) or not os.access(args.file, os.R_OK):
            raise SweepError(f"cannot read scenario file {args.file!r}")
        seeds = parse_seeds(args.seeds)
        if args.jobs < 1:
            raise SweepError("--jobs must be at least 1")
        try:
            _load(args.file)  # a file that cannot run any seed is a usage error, not N failing seeds
        except SweepError:
            raise
        except Exception as e:
            raise SweepError(f"cannot load scenario file {args.file}: {type(e).__name__}: {e}") from None
        command = "ksim sweep " + shlex.join(argv)
        start = time.perf_counter()
        rows = run_sweep(scenario_runner(args.file), seeds, jobs=args.jobs, scheduler=args.scheduler, db=args.db,
                         target=args.file, command=command)
        print_summary(rows, elapsed=time.perf_counter() - start)
        return exit_code(rows)
    except SweepError as e:
        print(f"ksim sweep: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        kept = f"; {args.db} keeps the seeds that finished" if args.db else ""
        print(f"\nksim sweep: interrupted{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `ksim sweep --report DB | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILING


if __name__ == "__main__":
    sys.exit(main())
