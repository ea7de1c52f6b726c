"""``respons serve`` for the server processes the tests start (tests/chaos/server.py).

The same command and code path as ``python -m respons.cli serve``, with one difference: the
test suite's cheap password hashing (tests/passwords.py), so that every log-in to a test
server does not cost a quarter of a second of CPU. Run as ``python -m tests.serve``."""

from tests.passwords import use_cheap_hashing

use_cheap_hashing()

from respons.cli import app  # noqa: E402 - after the hashing is chosen, as a reader expects

app(["serve"])
