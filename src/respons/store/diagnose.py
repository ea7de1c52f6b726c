"""One line that says why a database could not be reached, and what to do about it.

The commands an operator runs by hand (``migrate``, ``backup``, ``restore``) meet a missing
database, a missing role or a stopped server first; a page of driver traceback hides the one
sentence that matters.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url


def explain(exc: BaseException, database_url: str) -> str:
    """A single line for an operator: what is wrong and, where we know it, the fix."""
    url = make_url(database_url)
    message = " ".join(str(getattr(exc, "orig", None) or exc).split())
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if isinstance(exc, OSError):
            return f"Cannot create the folder of the SQLite database {path}: {exc.strerror or exc}."
        if "unable to open database file" in message:
            return (f"Cannot open the SQLite database {path}: does its folder exist, and may this user write there? "
                    f"(docs/operations.md)")
        return f"SQLite database {path}: {_driver_words(message)}"

    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    missing = re.search(r'database "([^"]+)" does not exist', message)
    if missing:
        owner = f" --owner={url.username}" if url.username else ""
        return (f'Database "{missing.group(1)}" does not exist on {where}. Create it first, e.g. '
                f"sudo -u postgres createdb{owner} {missing.group(1)} (docs/operations.md).")
    role = re.search(r'role "([^"]+)" does not exist', message)
    if role:
        return (f'Role "{role.group(1)}" does not exist on {where}. Create it first, e.g. '
                f"sudo -u postgres createuser --pwprompt {role.group(1)} (docs/operations.md).")
    if "password authentication failed" in message or "no password supplied" in message:
        return f'PostgreSQL on {where} refused the password of role "{url.username}" (check RESPONS_DATABASE_URL).'
    if "Connection refused" in message or "could not connect" in message or "timeout expired" in message:
        return f"No PostgreSQL answers at {where} (is the server running, and listening there?)."
    return f"Cannot use the database at {url.render_as_string(hide_password=True)}: {_driver_words(message)}"


def _driver_words(message: str) -> str:
    # psycopg prefixes "connection failed: connection to server at … failed:"; the last
    # clause is the server's own reason.
    return message.split("failed: ")[-1].strip() or message
