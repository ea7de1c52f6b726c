"""``respons demo`` and ``respons simulate``: an invented response centre, and traffic for it."""

from __future__ import annotations

from typing import Optional

import typer

from respons.cli.common import console, database
from respons.clock import system_clock
from respons.demo import epj as demo_epj
from respons.demo.seed import seed_demo
from respons.demo.simulate import run_simulator
from respons.settings import get_settings
from respons.store.db import write_transaction


def demo(
    recipients: int = typer.Option(3000, help="How many synthetic service recipients to create."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same people."),
    reset: bool = typer.Option(False, "--reset", help="Delete all existing data first."),
    history_days: int = typer.Option(120, "--history-days", help="Days of invented, handled alarms before today "
                                     "(for the statistics); 0 for none."),
) -> None:
    """Fill the database with a demo response centre: municipalities, people, devices, staff.

    Every person is invented; national identity numbers are synthetic (month + 80).
    """
    with database() as engine:
        summary = seed_demo(engine, now=system_clock(), seed=seed, recipients=recipients, reset=reset, console=console,
                            history_days=history_days)
        console.print(summary, soft_wrap=True, highlight=False)
        if not demo_epj.available():
            console.print("Demo EPJ: not installed (bash scripts/ensure-fhir-server.sh needs npm); the demo runs "
                          "without a patient record.", markup=False)
            return
        with write_transaction(engine) as conn:
            plans = demo_epj.prepare(conn, now=system_clock())
    console.print(f"Demo EPJ: care plans for {plans} people in {demo_epj.SEED_FILE}; every municipality documents to "
                  f"{demo_epj.BASE_URL} (started by `respons serve --demo-epj`).", markup=False)


def simulate(
    url: str = typer.Option("http://127.0.0.1:8080", help="The Respons server to send to."),
    speed: float = typer.Option(60.0, help="How many times faster than real time (1 = real time)."),
    duration: Optional[float] = typer.Option(None, help="Stop after this many real seconds (default: run until Ctrl-C)."),
    seed: int = typer.Option(1, help="Random seed for the traffic."),
) -> None:
    """Send a realistic mix of alarms to a running server over its HTTP intake.

    The rate follows seed 001: Kristiansand gets about 1,000 alarms a day for 18,000
    users, busiest 08–11, with a sizeable share of technical alarms.
    """
    settings = get_settings()
    run_simulator(url, speed=speed, duration=duration, seed=seed, database_url=settings.database_url, console=console)
