#!/usr/bin/env python3
"""The benchmark charts (docs/benchmarks/*.svg) and figure tables, drawn from the benchmark scripts' own output.

    scripts/charts.py                        redraw every chart and rewrite the generated blocks in
                                             docs/benchmarks.md and README.md from the newest data files
    scripts/charts.py --check                exit 1 when a chart or block differs from what the data gives
    scripts/charts.py --record NAME [ARGS]   run scripts/NAME.sh ARGS (bench-worker, bench-cleartokens,
                                             bench-cleartokens-breakdown), save what it prints on stdout as
                                             docs/benchmarks/data/NAME-<UTC date>.txt, then redraw

The data files are exactly what the scripts print (Markdown tables and a few lines of text); the parser finds
the tables by their header cells and the rows by their labels, so a new row or column does not break it. For
each script the newest file (by the date in its name) wins. Output is deterministic (fixed SVG hash salt, text
kept as text, no date in the metadata), so an unchanged input redraws byte-identical files.

Needs matplotlib (requirements-dev.txt; run it with .venv/bin/python after scripts/python-env.sh).
"""
import argparse
import datetime
import io
import os
import re
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "docs", "benchmarks", "data")
CHARTS = os.path.join(ROOT, "docs", "benchmarks")
BENCHMARKS_MD = os.path.join(ROOT, "docs", "benchmarks.md")
README = os.path.join(ROOT, "README.md")
SCRIPTS = ("bench-worker", "bench-cleartokens", "bench-cleartokens-breakdown")
DATA_NAME = re.compile(r"^(?P<script>[a-z-]+)-(?P<date>\d{4}-\d{2}-\d{2})\.txt$")

OAUTHQ = "#1f6feb"  # oauthq's bars
OTHER = "#8c959f"  # DOT, Celery
FLOOR = "#bf8700"  # the hand-written SQL floor


# --- reading the scripts' output ------------------------------------------------------------------------------


class Table:
    """One Markdown table as printed: header cells, body rows (lists of cells), and the text line before it."""

    def __init__(self, header, rows, caption):
        self.header, self.rows, self.caption = header, rows, caption

    def column(self, *words):
        """Index of the first header cell containing every word (case-insensitive), else None."""
        for index, cell in enumerate(self.header):
            if all(word.lower() in cell.lower() for word in words):
                return index
        return None

    def row(self, *words):
        """The first row whose label contains every word (case-insensitive), else None."""
        for row in self.rows:
            if all(word.lower() in row[0].lower() for word in words):
                return row
        return None


def cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def tables(text):
    """Every Markdown table in text, with the last non-empty non-table line before it as its caption."""
    found, caption, lines = [], "", text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("|") and index + 1 < len(lines) and re.match(r"^\s*\|[\s:|-]+\|\s*$", lines[index + 1]):
            header = cells(line)
            rows, index = [], index + 2
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                row = cells(lines[index])
                rows.append(row + [""] * (len(header) - len(row)))
                index += 1
            found.append(Table(header, rows, caption))
            continue
        if line.strip():
            caption = line.strip()
        index += 1
    return found


def number(cell):
    """The first number in a cell ('11,029' -> 11029.0, '5.70×' -> 5.7, '80 MiB' -> 80.0), else None."""
    match = re.search(r"-?\d[\d,]*(?:\.\d+)?", cell or "")
    return float(match.group(0).replace(",", "")) if match else None


def newest(script):
    """(path, date, text) of the newest data file of script, or None."""
    best = None
    for name in os.listdir(DATA) if os.path.isdir(DATA) else []:
        match = DATA_NAME.match(name)
        if match and match.group("script") == script and (best is None or match.group("date") > best[1]):
            best = (os.path.join(DATA, name), match.group("date"))
    if best is None:
        return None
    with open(best[0], encoding="utf-8") as handle:
        return best[0], best[1], handle.read()


def worker_figures(text):
    """The figures of scripts/bench-worker.sh's table: {metric: (oauthq, celery, note)}."""
    table = next((t for t in tables(text) if t.column("metric") == 0 and t.column("oauthq") is not None), None)
    if table is None:
        sys.exit("charts: no bench-worker table (| metric | oauthq … | celery … |) in the data file")
    ours, theirs = table.column("oauthq"), table.column("celery")
    note = len(table.header) - 1 if len(table.header) > 3 else None
    figures = {}
    for key, words in (("drain", ("drain",)), ("p50", ("p50",)), ("p99", ("p99",)), ("rss", ("rss",)),
                       ("wall", ("wall",)), ("results", ("with a result",))):
        row = table.row(*words)
        if row is not None:
            figures[key] = (row[ours], row[theirs], row[note] if note is not None else "")
    for key in ("drain", "p50", "p99", "rss"):
        if key not in figures or number(figures[key][0]) is None or number(figures[key][1]) is None:
            sys.exit(f"charts: the bench-worker table has no usable '{key}' row")
    return table, figures


def ratio(figures, key):
    """The ratio the script printed in the note column (e.g. '30.7x …'), else oauthq / Celery from the cells."""
    ours, theirs, note = figures[key]
    printed = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(?:x|×|of Celery)", note or "")
    if printed:
        return float(printed.group(1)), printed.group(1)
    value = number(ours) / number(theirs)
    return value, f"{value:.2f}" if value < 1 else f"{value:.1f}"


def cleartokens_rounds(text):
    """[(title, table)] of scripts/bench-cleartokens.sh: each table with a 'seconds' column, titled by the line
    before it ('First run (deletes … rows …):')."""
    rounds = [(t.caption.rstrip(":"), t) for t in tables(text) if t.column("run") == 0 and t.column("seconds") is not None]
    if not rounds:
        sys.exit("charts: no bench-cleartokens table (| run | seconds | …) in the data file")
    return rounds


def short_caption(caption):
    """'First run (deletes 1564180 rows; the remaining …)' -> 'First run (deletes 1,564,180 rows)'."""
    head = caption.split(";")[0]
    head = re.sub(r"\d{4,}", lambda match: f"{int(match.group(0)):,}", head)
    return head + ")" if "(" in head and not head.endswith(")") else head


def short_label(label):
    """A cleartokens run's label without the words every row shares."""
    for words in (" manage.py cleartokens", "hand-written batched ", " cleartokens"):
        label = label.replace(words, "")
    return label


def kind(label):
    lower = label.lower()
    if "floor" in lower:
        return "floor"
    if lower.startswith("oauthq"):
        return "oauthq"
    return "other"


# --- drawing ----------------------------------------------------------------------------------------------------


def pyplot():
    try:
        import matplotlib
    except ImportError:
        sys.exit("charts: matplotlib is missing: run scripts/python-env.sh, then .venv/bin/python scripts/charts.py")
    matplotlib.use("svg")
    matplotlib.rcdefaults()  # ignore any matplotlibrc: the output must not depend on the machine
    matplotlib.rcParams.update({
        "svg.hashsalt": "oauthq-charts",  # fixed ids: the same input draws the same bytes
        "svg.fonttype": "none",  # text stays text (no glyph paths that depend on the installed fonts)
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 9.5,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
    })
    import matplotlib.pyplot as plt
    return plt


def svg(figure):
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": "scripts/charts.py"})
    figure.clf()
    return buffer.getvalue()


def bars(axis, labels, values, colours, text, unit_format):
    """Horizontal bars, first label on top, each with its value written after the bar."""
    positions = list(range(len(labels)))[::-1]
    axis.barh(positions, values, color=colours, height=0.6)
    axis.set_yticks(positions, labels)
    axis.tick_params(axis="y", length=0)
    top = max(values)
    axis.set_xlim(0, top * 1.32)
    for position, value, words in zip(positions, values, text):
        axis.text(value + top * 0.015, position, words or unit_format(value), va="center", fontsize=8.5)
    axis.xaxis.set_visible(False)
    axis.spines["bottom"].set_visible(False)


def source_line(figure, script, date):
    figure.text(0.0, -0.02, f"{script}, run of {date}; drawn by scripts/charts.py", fontsize=7.5, color="#57606a",
                transform=figure.transFigure)


def chart_headline(plt, worker):
    _, figures = worker
    fig, axes = plt.subplots(1, 3, figsize=(9.0, 1.55))
    drain, drain_text = ratio(figures, "drain")
    rss, rss_text = ratio(figures, "rss")
    p50 = number(figures["p50"][1]) / number(figures["p50"][0])  # how many times lower oauthq's latency is
    panels = [
        (axes[0], f"Drain rate, tasks/s ({drain_text}×)", "drain", lambda v: f"{v:,.0f}"),
        (axes[1], f"Latency p50, ms ({p50:.1f}× lower)", "p50", lambda v: f"{v:.3f}"),
        (axes[2], f"Idle memory, MiB ({rss_text}×)", "rss", lambda v: f"{v:.1f}"),
    ]
    for axis, title, key, fmt in panels:
        values = [number(figures[key][0]), number(figures[key][1])]
        bars(axis, ["oauthq", "Celery"], values, [OAUTHQ, OTHER], [fmt(v) for v in values], fmt)
        axis.set_title(title)
    fig.subplots_adjust(wspace=0.45)
    return fig


def chart_worker(plt, worker, key_sets, titles, formats):
    _, figures = worker
    fig, axes = plt.subplots(1, len(key_sets), figsize=(4.3 * len(key_sets), 1.5), squeeze=False)
    for axis, key, title, fmt in zip(axes[0], key_sets, titles, formats):
        values = [number(figures[key][0]), number(figures[key][1])]
        bars(axis, ["oauthq worker -c 2", "Celery prefork -c 2"], values, [OAUTHQ, OTHER], [fmt(v) for v in values], fmt)
        axis.set_title(title)
    fig.subplots_adjust(wspace=0.7)
    return fig


def chart_cleartokens(plt, rounds):
    fig, axes = plt.subplots(len(rounds), 1, figsize=(7.5, 1.35 + 0.42 * max(len(t.rows) for _, t in rounds) * len(rounds)),
                             squeeze=False)
    for axis, (title, table) in zip(axes[:, 0], rounds):
        seconds = table.column("seconds")
        rows = [row for row in table.rows if number(row[seconds]) is not None]
        labels = [row[0] for row in rows]
        values = [number(row[seconds]) for row in rows]
        floor = next((number(row[seconds]) for row in rows if kind(row[0]) == "floor"), None)
        text = [f"{v:.2f} s" + (f"  ({v / floor:.2f}× the floor)" if floor else "") for v in values]
        colours = [{"oauthq": OAUTHQ, "floor": FLOOR, "other": OTHER}[kind(label)] for label in labels]
        bars(axis, labels, values, colours, text, lambda v: f"{v:.2f} s")
        axis.set_title(short_caption(title) + " — seconds, lower is better")
    fig.subplots_adjust(hspace=0.55)
    return fig


def chart_memory(plt, worker, rounds):
    _, figures = worker
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 2.1))
    values = [number(figures["rss"][0]), number(figures["rss"][1])]
    bars(axes[0], ["oauthq worker -c 2", "Celery prefork -c 2"], values, [OAUTHQ, OTHER],
         [f"{v:.1f} MiB" for v in values], None)
    axes[0].set_title("Worker, idle RSS after the drain")
    title, table = rounds[0]
    rss = table.column("rss")
    rows = [row for row in table.rows if rss is not None and number(row[rss]) is not None]
    values = [number(row[rss]) for row in rows]
    bars(axes[1], [short_label(row[0]) for row in rows],
         values, [{"oauthq": OAUTHQ, "floor": FLOOR, "other": OTHER}[kind(row[0])] for row in rows],
         [f"{v:.0f} MiB" for v in values], None)
    axes[1].set_title("cleartokens, peak RSS of the client (first run)")
    fig.subplots_adjust(wspace=0.6)
    return fig


# --- the generated Markdown blocks --------------------------------------------------------------------------------


def relative(path):
    return os.path.relpath(path, ROOT)


def block_worker(worker, path, date):
    table, _ = worker
    lines = [f"Measured by `scripts/bench-worker.sh` on {date} (its printed table, kept in "
             f"[`{relative(path)}`](benchmarks/data/{os.path.basename(path)})):", ""]
    lines += ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def block_cleartokens(text, path, date, script):
    lines = [f"Measured by `scripts/{script}.sh` on {date} (its printed output, kept in "
             f"[`{relative(path)}`](benchmarks/data/{os.path.basename(path)})):", ""]
    body = [line for line in text.strip("\n").splitlines()]
    lines += body
    return "\n".join(lines) + "\n"


def block_headline(worker, date):
    _, figures = worker
    drain_ratio = ratio(figures, "drain")[1]
    rss_ratio = ratio(figures, "rss")[1]
    sentence = (
        f"In the latest run of `scripts/bench-worker.sh` ({date}, this project's shared 2-core machine), an "
        f"`oauthq worker -c 2` drained {figures['drain'][0]} `ping` tasks/s against {figures['drain'][1]} for Celery's "
        f"prefork worker `-c 2` ({drain_ratio}×), with a p50 latency of {figures['p50'][0]} ms (Celery "
        f"{figures['p50'][1]} ms; p99 {figures['p99'][0]} against {figures['p99'][1]} ms) and an idle RSS of "
        f"{figures['rss'][0]} MiB ({rss_ratio}× Celery's {figures['rss'][1]} MiB). "
        f"[Benchmarks](docs/benchmarks.md) has the method and the cleartokens comparison with DOT."
    )
    # Never break inside `code`: its spaces are held as U+0000 while wrapping.
    held = re.sub(r"`[^`]*`", lambda match: match.group(0).replace(" ", "\0"), sentence)
    wrapped = textwrap.fill(held, width=110, break_long_words=False, break_on_hyphens=False).replace("\0", " ")
    return wrapped + "\n\n![oauthq against Celery: drain rate, p50 latency, idle memory](docs/benchmarks/headline.svg)\n"


def block_jobs(text, rounds, date):
    """The README's cleartokens curve: the first round's oauthq rows for --jobs 1, 2 and 4, and DOT's."""
    title, table = rounds[0]
    seconds = {}
    for row in table.rows:
        label = row[0]
        jobs = re.search(r"--jobs (\d+)", label)
        if label == "oauthq cleartokens":
            seconds[1] = number(row[1])
        elif jobs and label.startswith("oauthq cleartokens --jobs"):
            seconds[int(jobs.group(1))] = number(row[1])
        elif label.startswith("DOT"):
            seconds["dot"] = number(row[1])
    if 1 not in seconds or "dot" not in seconds:
        sys.exit("charts: the bench-cleartokens data has no 'oauthq cleartokens' or DOT row in its first table")
    deleted = re.search(r"deletes (\d+) rows", title)
    units = re.search(r"cleartokens, (\d+) units", text)
    sentence = (
        f"The first clean-up of a long-neglected table ({int(units.group(1)):,} token units, "
        f"{int(deleted.group(1)):,} rows to delete), in the latest run of `scripts/bench-cleartokens.sh` ({date}, "
        f"this project's 2-core machine with PostgreSQL on it; every run ends with the rows DOT's command leaves):"
    )
    held = re.sub(r"`[^`]*`", lambda match: match.group(0).replace(" ", "\0"), sentence)
    lines = [
        textwrap.fill(held, width=110, break_long_words=False, break_on_hyphens=False).replace("\0", " "),
        "",
        "| run | seconds | speed-up over `--jobs 1` | speed-up over DOT |",
        "|---|---:|---:|---:|",
    ]
    for jobs in sorted(key for key in seconds if key != "dot"):
        lines.append(f"| `oauthq cleartokens --jobs {jobs}` | {seconds[jobs]:.2f} | {seconds[1] / seconds[jobs]:.2f}× | "
                     f"{seconds['dot'] / seconds[jobs]:.2f}× |")
    lines.append(f"| DOT 3.4.1 `manage.py cleartokens` | {seconds['dot']:.2f} | | 1.00× |")
    return "\n".join(lines) + "\n"


def replace_block(text, name, content, where):
    begin = f"<!-- BEGIN {name}: generated by scripts/charts.py; do not edit -->"
    end = f"<!-- END {name} -->"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        sys.exit(f"charts: {where} has no block between {begin!r} and {end!r}")
    return text[:start + len(begin)] + "\n" + content + text[stop:]


# --- main -----------------------------------------------------------------------------------------------------------


def outputs():
    """{path: content} of everything this script writes."""
    worker_data = newest("bench-worker")
    clear_data = newest("bench-cleartokens")
    breakdown_data = newest("bench-cleartokens-breakdown")
    missing = [name for name, data in zip(SCRIPTS, (worker_data, clear_data, breakdown_data)) if data is None]
    if missing:
        sys.exit(f"charts: no data file for {', '.join(missing)} in {relative(DATA)}")
    plt = pyplot()
    worker = worker_figures(worker_data[2])
    rounds = cleartokens_rounds(clear_data[2])
    files = {}

    def draw(name, figure, script, date):
        source_line(figure, script, date)
        files[os.path.join(CHARTS, name)] = svg(figure)
        plt.close(figure)

    draw("headline.svg", chart_headline(plt, worker), "scripts/bench-worker.sh", worker_data[1])
    draw("worker-drain.svg", chart_worker(plt, worker, ["drain", "wall"] if "wall" in worker[1] else ["drain"],
                                          ["Drain rate, tasks/s (higher is better)", "Wall time for the drain incl. start-up, s"],
                                          [lambda v: f"{v:,.0f}", lambda v: f"{v:.2f} s"]),
         "scripts/bench-worker.sh", worker_data[1])
    draw("worker-latency.svg", chart_worker(plt, worker, ["p50", "p99"],
                                            ["Enqueue → result latency p50, ms", "Enqueue → result latency p99, ms"],
                                            [lambda v: f"{v:.3f} ms", lambda v: f"{v:.3f} ms"]),
         "scripts/bench-worker.sh", worker_data[1])
    draw("cleartokens.svg", chart_cleartokens(plt, rounds), "scripts/bench-cleartokens.sh", clear_data[1])
    draw("memory.svg", chart_memory(plt, worker, rounds), "scripts/bench-worker.sh and scripts/bench-cleartokens.sh",
         f"{worker_data[1]} and {clear_data[1]}")

    with open(BENCHMARKS_MD, encoding="utf-8") as handle:
        benchmarks = handle.read()
    benchmarks = replace_block(benchmarks, "bench-worker", block_worker(worker, worker_data[0], worker_data[1]),
                               relative(BENCHMARKS_MD))
    benchmarks = replace_block(benchmarks, "bench-cleartokens",
                               block_cleartokens(clear_data[2], clear_data[0], clear_data[1], "bench-cleartokens"),
                               relative(BENCHMARKS_MD))
    benchmarks = replace_block(benchmarks, "bench-cleartokens-breakdown",
                               block_cleartokens(breakdown_data[2], breakdown_data[0], breakdown_data[1],
                                                 "bench-cleartokens-breakdown"), relative(BENCHMARKS_MD))
    files[BENCHMARKS_MD] = benchmarks
    with open(README, encoding="utf-8") as handle:
        readme = replace_block(handle.read(), "headline", block_headline(worker, worker_data[1]), "README.md")
    files[README] = replace_block(readme, "cleartokens-jobs", block_jobs(clear_data[2], rounds, clear_data[1]), "README.md")
    return files


def record(name, arguments):
    if name not in SCRIPTS:
        sys.exit(f"charts: --record takes one of {', '.join(SCRIPTS)}")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    target = os.path.join(DATA, f"{name}-{date}.txt")
    print(f"charts: running scripts/{name}.sh {' '.join(arguments)} (its table goes to {relative(target)})", file=sys.stderr)
    process = subprocess.Popen([os.path.join(ROOT, "scripts", f"{name}.sh"), *arguments], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    captured = []
    for line in process.stdout:
        sys.stdout.write(line)
        captured.append(line)
    if process.wait() != 0:
        sys.exit(f"charts: scripts/{name}.sh exited with status {process.returncode}; nothing recorded")
    os.makedirs(DATA, exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write("".join(captured))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a chart or generated block is stale")
    mode.add_argument("--record", metavar="NAME", help="run scripts/NAME.sh, keep its output as today's data file")
    parser.add_argument("arguments", nargs="*", help="arguments for the benchmark script (with --record)")
    args = parser.parse_args()
    if args.arguments and not args.record:
        parser.error("arguments are only for --record")
    if args.record:
        record(args.record, args.arguments)
    stale = []
    for path, content in outputs().items():
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current == content:
            continue
        if args.check:
            stale.append(relative(path))
        else:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(content)
            print(f"charts: wrote {relative(path)}")
    if stale:
        sys.exit(f"charts: stale: {', '.join(stale)}: run scripts/charts.py")
    if args.check:
        print("charts: every chart and generated block matches the data files")


if __name__ == "__main__":
    main()
