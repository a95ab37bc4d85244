"""`verbatim bench`: placeholder replaced by the benchmark module."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks (run on demand, never in tests).", invoke_without_command=True)
