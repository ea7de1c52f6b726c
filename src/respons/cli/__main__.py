"""``python -m respons.cli``: how tests, benchmarks and the chaos harness start the command."""

from respons.cli import app

app()
