"""An interactive timeline of a run, in the browser: RaftScope, for Kafka.

    python3 -m ksim.timeline runs/acks1_leader_crash-3.db timeline.html   # or: ksim report RUN.db --timeline OUT.html

One self-contained HTML page (no network: its script, style and the run's
data are inline). It draws the brokers, controllers and clients (up, down,
paused), the messages in flight between them, each partition's replicas as
logs (a cell per record coloured by its batch's leader epoch, the HW and each
log end offset marked, the ISR and the leader), the faults, the story's
events and the checkers' anomalies. A slider, a play button and the keys
scrub through virtual time; clicking an anomaly jumps to it and outlines its
records. `#t=MS` in the URL opens the page at that instant.

The work is split in four: ksim.timeline_data reads the run store into
per-instant state (step functions, log runs, message intervals);
ksim.timeline_logs replays each replica's log from the simulated disk's
writes and truncations (what is exact and what is estimated is said there);
ksim.timeline_messages pairs each message's send with its delivery or drop;
ksim.timeline_page is the page. Standard library only: ksim's extension is
not needed. Bad input (a missing file, not a run store) is one line on stderr
and exit code 2.
"""
import os
import sys

from . import timeline_data, timeline_page

USAGE = "usage: python3 -m ksim.timeline RUN.db OUT.html"


def write_timeline(db_path, out_path):
    """Writes the page; returns the data it embeds (for callers that want figures)."""
    if not os.path.isfile(db_path):
        raise timeline_data.NotARunStore(f"{db_path}: no such file")
    data = timeline_data.load(db_path)
    html = timeline_page.render(data)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(html)
    return data


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        data = write_timeline(argv[0], argv[1])
    except timeline_data.NotARunStore as e:
        print(f"ksim timeline: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ksim timeline: cannot write {argv[1]}: {e.strerror or e}", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, IndexError) as e:
        # A store with the right tables but rows this reader cannot make sense of.
        print(f"ksim timeline: {argv[0]}: unexpected content in the run store ({type(e).__name__}: {e})",
              file=sys.stderr)
        return 2
    parts = [p for p in data["partitions"] if not p["internal"]]
    print(f"timeline: {argv[1]} ({len(parts)} partitions, {len(data['messages']['t0'])} messages, "
          f"{data['meta']['end'] / 1000:.1f} simulated s) — open it in a browser")
    return 0


if __name__ == "__main__":
    sys.exit(main())
