"""``respons migrate`` and ``respons serve``: the schema, and the server on it."""

from __future__ import annotations

import logging
from typing import Optional

import typer

from respons.cli.common import console, database_problems, safe_url
from respons.demo.simulate import start_background_simulator
from respons.observability import logs
from respons.settings import get_settings
from respons.store.migrate import current_revision, upgrade


def migrate() -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = get_settings()
    with database_problems(settings.database_url):
        upgrade(settings.database_url)
        revision = current_revision(settings.database_url)
    console.print(f"[green]Database is at schema revision {revision}[/green] ({safe_url(settings.database_url)})")


def serve(
    host: Optional[str] = typer.Option(None, help="Address to listen on (default RESPONS_HOST, 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default RESPONS_PORT, 8080)."),
    simulate: bool = typer.Option(False, "--simulate", help="Also send simulated alarm traffic to this server."),
    speed: float = typer.Option(60.0, help="With --simulate: how many times faster than real time."),
    demo_epj: bool = typer.Option(False, "--demo-epj", help="Also run the demo's patient record (a local FHIR server "
                                                            "with the demo's care plans, see `respons demo`)."),
    demo_voice: bool = typer.Option(False, "--demo-voice", help="Also run the demo's voice: the media gateway and "
                                                                "one simulated alarm unit on this machine."),
    demo_messages: bool = typer.Option(False, "--demo-messages", help="Also run the demo's SMS centre on this "
                                       "machine (SMPP; next of kin answer from it) and send SMS there only."),
) -> None:
    """Run the server: HTTP API, journal writer and timer worker."""
    # Here, not at the top: the web application takes longer to import than every other
    # command together, and only this command needs it.
    from respons.web import server
    from respons.web.app import create_app

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    # Text, or one JSON object per line (RESPONS_LOG_FORMAT=json), with the request id.
    logs.configure(settings.log_format)
    if settings.log_format == "json":  # every line a JSON object, the banner too
        logging.getLogger("respons").info("Respons on http://%s:%s (database: %s)", host, port,
                                          safe_url(settings.database_url))
    else:
        console.print(f"Respons on [bold]http://{host}:{port}[/bold]  (API docs: http://{host}:{port}/docs, database: {safe_url(settings.database_url)})")
    epj_process = _start_demo_epj() if demo_epj else None
    voice_processes, voice_settings = _start_demo_voice() if demo_voice else ([], {})
    settings = settings.model_copy(update=voice_settings) if voice_settings else settings
    message_processes, message_settings = _start_demo_messages() if demo_messages else ([], {})
    settings = settings.model_copy(update=message_settings) if message_settings else settings
    if simulate:
        start_background_simulator(f"http://{host}:{port}", speed=speed, database_url=settings.database_url)
    try:
        server.run(create_app(settings), host=host, port=port)
    finally:
        for process in [epj_process, *voice_processes, *message_processes]:
            if process is not None:
                process.terminate()


def _start_demo_voice():
    """The demo's gateway and simulated unit, or one line saying why the demo runs without voice."""
    from respons.demo import voice

    why = voice.problem()
    if why:
        console.print(f"Demo voice: {why}; running without voice (the console says \"Tale utilgjengelig\").",
                      markup=False)
        return [], {}
    try:
        processes, settings = voice.start()
    except (RuntimeError, OSError) as exc:
        console.print(f"Demo voice: did not start ({exc}); running without voice.", markup=False)
        return [], {}
    console.print("Demo voice: gateway, a simulated alarm unit and a simulated phone line on this machine "
                  "(press T on an answered alarm; phone numbers answer with your own voice and reach no one).",
                  markup=False)
    from respons.demo import camera

    missing = camera.available()
    console.print(f"Demo cameras: {missing}; camera look-ins in the round (/round) say the camera is unavailable."
                  if missing else "Demo cameras: three simulated supervision cameras on this machine (the round, "
                  "/round: look-ins at :00, :20 and :40 every hour; nothing is recorded).", markup=False)
    return processes, settings


def _start_demo_messages():
    """The demo's SMS centre and its next of kin, or one line saying why the demo sends no SMS."""
    from respons.demo import smsc

    # The demo's people have valid mobile numbers that may be someone's: whatever the
    # environment says, a demo sends SMS to the local SMS centre or to nobody.
    nobody = {"sms_provider": "none", "installation": "demo", "vapid_private_key": ""}
    if not smsc.available():
        console.print("Demo messages: not installed (bash scripts/ensure-message-peers.sh); no SMS is sent, and "
                      "next-of-kin alarms go to the centre.", markup=False)
        return [], nobody
    try:
        process = smsc.start()
    except (RuntimeError, OSError) as exc:
        console.print(f"Demo messages: did not start ({exc}); no SMS is sent, and next-of-kin alarms go to the "
                      "centre.", markup=False)
        return [], nobody
    sender = "2222"
    replies = smsc.KinReplies(sender=sender).start()
    console.print(f"Demo messages: SMS go to a local SMS centre on this machine (127.0.0.1:{smsc.PORT}, "
                  f"{smsc.JOURNAL}); nothing reaches a phone. Its next of kin answer some requests with OK. "
                  "Web Push is off in the demo (it would need a push service outside this machine).", markup=False)
    settings = {"sms_provider": "smpp", "smpp_host": "127.0.0.1", "smpp_port": smsc.PORT,
                "smpp_system_id": smsc.SYSTEM_ID, "smpp_password": smsc.PASSWORD, "sms_sender": sender,
                "installation": "demo", "vapid_private_key": ""}

    class _Stopper:  # terminate() like the other processes: the SMS centre and the replies
        def terminate(self):
            replies.stop()
            process.terminate()

    return [_Stopper()], settings


def _start_demo_epj():
    """The demo's EPJ, or one line saying why the demo runs without it."""
    from respons.demo import epj

    if not epj.available():
        console.print("Demo EPJ: not installed (bash scripts/ensure-fhir-server.sh); running without a patient record.",
                      markup=False)
        return None
    try:
        process = epj.start()
    except (RuntimeError, OSError) as exc:
        console.print(f"Demo EPJ: did not start ({exc}); running without a patient record.", markup=False)
        return None
    console.print(f"Demo EPJ on {epj.BASE_URL} (synthetic care plans; nothing leaves this machine)", markup=False)
    return process
