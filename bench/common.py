"""What every benchmark shares: where the project and the shared data are, vae.py run as a user runs it, timing and
memory helpers, and the one Markdown table the rows are printed in."""

import argparse
import os
import statistics
import subprocess
import sys
import time

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAE_SCRIPT = os.path.join(PROJECT, "vae.py")
SHARED = os.path.join(PROJECT, "..", "shared", "data")
DEFAULT_SOURCE = os.path.join(SHARED, "mnist_1_4_8_train.npz")
DEFAULT_TEST = os.path.join(SHARED, "mnist_test_first5000.npz")

ROWS: list[tuple[str, str, str, str, str, bool | None]] = []


def row(measure: str, ours: str, reference: str, ratio: str, target: str, met: bool | None) -> None:
    """One measured row of the table (also echoed to stderr as it is measured)."""
    ROWS.append((measure, ours, reference, ratio, target, met))
    print(f"  {measure}: ours {ours}, reference {reference}, {ratio} (target {target})", file=sys.stderr, flush=True)


def print_table() -> None:
    """Every row measured so far, as one Markdown table on stdout."""
    print("| measure | ours | reference | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for measure, ours_cell, reference, ratio, target, met in ROWS:
        verdict = "" if met is None else ("yes" if met else "**no**")
        print(f"| {measure} | {ours_cell} | {reference} | {ratio} | {target} | {verdict} |")


def source_parser(module: str, doc: str, combined: bool = False) -> argparse.ArgumentParser:
    """A bench's parser: --source, the assignment's labelled 1/4/8 file; or with ``combined`` --train and --test, the
    two files the family's benches combine (vae.datasets.splits.combine_files), and --hold-out."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    if not combined:
        parser.add_argument("--source", default=DEFAULT_SOURCE,
                            help="the labelled MNIST 1/4/8 file (default: the shared one)")
        return parser
    parser.add_argument("--train", default=DEFAULT_SOURCE, help="(default: the shared MNIST 1/4/8 training file)")
    parser.add_argument("--test", default=DEFAULT_TEST, help="(default: the shared first 5,000 MNIST test images)")
    parser.add_argument("--hold-out", type=int, default=2000, help="test images held out (default %(default)s)")
    return parser


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def vae_command(*args) -> subprocess.CompletedProcess:
    """``python vae.py ARGS``, its output captured; CalledProcessError when it fails, its stderr printed first."""
    result = subprocess.run([sys.executable, VAE_SCRIPT, *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
    result.check_returncode()
    return result


def peak_memory_mb(command: list[str]) -> float:
    """The largest resident set (MB) of ``command`` run to its end, as GNU time reports it."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True, check=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024
