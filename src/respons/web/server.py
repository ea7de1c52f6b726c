"""Running the app under uvicorn, with a shutdown that does not wait for screens.

On SIGTERM uvicorn stops accepting, lets requests in flight finish, and only then runs the
app's shutdown. An open event stream is a request that never finishes: with one console
open a node took 297 s to stop (issue 14). So the signal first ends every stream
(``LiveBus.close``: the browsers show "not connected" and retry, reaching another node
behind the load balancer), and uvicorn gets a grace period for the rest.
"""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from respons.runtime import settle_heap

# Requests in flight (an alarm waiting for its commit takes milliseconds) get this long.
GRACEFUL_SHUTDOWN_SECONDS = 5


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI):
        super().__init__(config)
        self._app = app

    async def startup(self, sockets=None) -> None:
        # The app's lifespan builds the node in here; a failed start raises SystemExit.
        await super().startup(sockets=sockets)
        if not self.should_exit:  # not stopping already (a signal during the start)
            settle_heap()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime = getattr(self._app.state, "runtime", None)
        if runtime is not None:
            runtime.live.close()  # thread-safe: wakes every stream on its own loop
        super().handle_exit(sig, frame)


def config(app: FastAPI, *, host: str, port: int) -> uvicorn.Config:
    # proxy_headers off: uvicorn would believe X-Forwarded-For from any local caller (its
    # default FORWARDED_ALLOW_IPS), so a client on the host could choose the address the
    # log-in limits count. The app reads the header itself, from RESPONS_TRUSTED_PROXIES
    # only (web/client_address.py).
    # log_config None: uvicorn keeps its hands off logging (respons.observability.logs set it
    # up, text or JSON); access_log off: the app writes its own (respons.access, with the
    # route template and the request id).
    return uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                          timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, proxy_headers=False,
                          log_config=None, access_log=False)


def run(app: FastAPI, *, host: str, port: int) -> None:
    _Server(config(app, host=host, port=port), app).run()
