"""The ``respons`` command."""

from __future__ import annotations

import logging
from typing import Optional

import typer
from rich.console import Console

from respons.settings import get_settings

app = typer.Typer(
    help="Respons: an open platform for municipal response services (responstjenester).\n\n"
    "Configuration comes from RESPONS_* environment variables; see README.md.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    from respons.store.migrate import current_revision, upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    console.print(f"[green]Database is at schema revision {current_revision(settings.database_url)}[/green] ({_safe_url(settings.database_url)})")


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Address to listen on (default RESPONS_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default RESPONS_PORT, 8080)."),
    simulate: bool = typer.Option(False, "--simulate", help="Also send simulated alarm traffic to this server."),
    speed: float = typer.Option(60.0, help="With --simulate: how many times faster than real time."),
) -> None:
    """Run the server: HTTP API, journal writer and timer worker."""
    import uvicorn

    from respons.web.app import create_app

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # One line per simulated request would bury the server's own messages.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    console.print(f"Respons on [bold]http://{host}:{port}[/bold]  (API docs: http://{host}:{port}/docs, database: {_safe_url(settings.database_url)})")
    if simulate:
        from respons.demo.simulate import start_background_simulator

        start_background_simulator(f"http://{host}:{port}", speed=speed, database_url=settings.database_url)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", lifespan="on")


@app.command()
def demo(
    recipients: int = typer.Option(3000, help="How many synthetic service recipients to create."),
    seed: int = typer.Option(1, help="Random seed: the same seed gives the same people."),
    reset: bool = typer.Option(False, "--reset", help="Delete all existing data first."),
) -> None:
    """Fill the database with a demo response centre: municipalities, people, devices, staff.

    Every person is invented; national identity numbers are synthetic (month + 80).
    """
    from respons.clock import system_clock
    from respons.demo.seed import seed_demo
    from respons.store.db import make_engine

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        summary = seed_demo(engine, now=system_clock(), seed=seed, recipients=recipients, reset=reset, console=console)
    finally:
        engine.dispose()
    console.print(summary)


@app.command()
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
    from respons.demo.simulate import run_simulator

    settings = get_settings()
    run_simulator(url, speed=speed, duration=duration, seed=seed, database_url=settings.database_url, console=console)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
