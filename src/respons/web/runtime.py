"""What a running node holds: the read engine, the journal, the clock, the timer worker."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from sqlalchemy import Engine

from respons.clock import Clock
from respons.engine.live import LiveBus
from respons.engine.timers import TimerWorker
from respons.settings import Settings
from respons.store.journal import Journal


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    journal: Journal
    clock: Clock
    timers: TimerWorker
    live: LiveBus

    @property
    def answer_deadline(self) -> timedelta:
        return timedelta(seconds=self.settings.answer_deadline_seconds)


def node_name(settings: Settings) -> str:
    return settings.node_name or f"{socket.gethostname()}:{os.getpid()}"


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime
