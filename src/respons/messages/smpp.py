"""SMS over SMPP 3.4, the protocol SMS centres and Norwegian aggregators offer their customers
(docs/messages.md, "SMPP"). The session is the well-kept ``aiosmpplib`` (asyncio): it binds as
a transceiver, keeps the link with enquire_link, reconnects, and hands us every PDU.

What Respons does itself, and why:

- **Splitting** (messages/texts.py): one submit_sm per part with its own user data header,
  counted in septets. The library's splitter counts characters, so a long text with a €
  would give an oversized part.
- **Nothing queued in memory**: a part is handed to the library only while the session is
  bound, and one whose answer does not come in time is withdrawn if the session has not taken
  it yet; if it has, the SMSC may have it, and the outbox waits for its receipts before
  sending it again (messages/worker.py, store.recover_interrupted).
- **Receipts and replies** go to the worker's callbacks with the SMSC's id, the number and
  the text, from a queue of their own (never on the session's receive loop), and are matched
  against the outbox in the database — not against the library's in-memory correlation, which
  a restart forgets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    BindMode,
    BindTransceiverResp,
    DeliverSm,
    PhoneNumber,
    SmppCommandStatus,
    SmppMessage,
    SmppSessionState,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.retrytimer import SimpleExponentialBackoff

from respons.messages import rules, texts

log = logging.getLogger(__name__)

Receipt = Callable[[str, str, str, str], Awaitable[None]]  # (smsc id, stat, number, first text)
# A receipt or reply whose unit fails (the database is away) is tried again after these waits.
INBOX_RETRIES = (1.0, 2.0, 4.0, 8.0, None)
INBOX_BATCH = 100
# After a bind, the SMSC sends the receipts it kept for us; a message that may have been sent
# before is recognised only once they have had this long to come.
RECEIPT_GRACE = 5.0
Reply = Callable[[str, str], Awaitable[None]]  # (number, text)


def address(number: str) -> PhoneNumber:
    """An E.164 number as SMPP wants it: international, ISDN numbering, no plus; a short code
    or other digits as they are; letters as an alphanumeric sender (which cannot be replied to)."""
    if number.startswith("+") and number[1:].isdigit():
        return PhoneNumber(number[1:], TON.INTERNATIONAL, NPI.ISDN)
    if number.isdigit():
        return PhoneNumber(number, TON.UNKNOWN, NPI.ISDN)
    return PhoneNumber(number[:11], TON.ALPHANUMERIC, NPI.UNKNOWN)


def e164(number: str, ton: int) -> str:
    """A number from the SMSC as the registry stores phones."""
    digits = number.lstrip("+")
    if ton == TON.INTERNATIONAL or number.startswith("+") or (digits.startswith("47") and len(digits) == 10):
        return "+" + digits
    return digits


class _Parts(AbstractBroker):
    """What the session sends next: only parts we still wait for (see the module's docstring).
    A part can be withdrawn only while it waits here; once the session took it, it may have
    reached the SMSC, and ``withdraw`` says so."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[SubmitSm] = asyncio.Queue()
        self._waiting: set[str] = set()  # log ids enqueued and not yet taken by the session

    async def enqueue(self, message: SmppMessage) -> None:
        self._waiting.add(message.log_id)
        await self._queue.put(message)  # type: ignore[arg-type]

    async def dequeue(self) -> SmppMessage:
        while True:
            message = await self._queue.get()
            if message.log_id in self._waiting:
                self._waiting.discard(message.log_id)
                return message

    def waiting(self, log_id: str) -> bool:
        return log_id in self._waiting

    def withdraw(self, log_id: str) -> bool:
        """True: never handed to the session (it will not be sent); False: it may have been."""
        if log_id in self._waiting:
            self._waiting.discard(log_id)
            return True
        return False


class _Hook(AbstractHook):
    def __init__(self, provider: "SmppProvider") -> None:
        self._provider = provider

    async def sending(self, smpp_message, pdu, client_id) -> None:
        return None

    async def received(self, smpp_message, pdu, client_id) -> None:
        await self._provider._received(smpp_message)

    async def send_error(self, smpp_message, error, client_id) -> None:
        self._provider._answer(smpp_message.log_id, error)


class SmppProvider:
    name = "smpp"

    def __init__(self, *, host: str, port: int, system_id: str, password: str, sender: str,
                 answer_seconds: float = 10.0, enquire_link_seconds: float = 30.0):
        self._settings = dict(host=host, port=port, system_id=system_id, password=password)
        self._sender = address(sender)
        self._answer_seconds = answer_seconds
        self._enquire_link_seconds = enquire_link_seconds
        self._parts = _Parts()
        self._waiting: dict[str, asyncio.Future] = {}
        self._esme: ESME | None = None
        self._task: asyncio.Task | None = None
        self._on_receipt: Receipt | None = None
        self._on_reply: Reply | None = None
        self._inbox: asyncio.Queue[DeliverSm] = asyncio.Queue()
        self._reader: asyncio.Task | None = None
        self._recording: set[asyncio.Task] = set()  # receipts and replies on their way to the journal
        self._slots = asyncio.Semaphore(INBOX_BATCH)
        self._bound_at: float | None = None  # when the current session was bound (monotonic)

    @property
    def bound(self) -> bool:
        return self._esme is not None and self._esme.session_state == SmppSessionState.BOUND_TRX

    @property
    def receipts_settled(self) -> bool:
        """Has the session been bound long enough for the receipts the SMSC kept for us to
        have come? Only then can a message that may have been sent before be recognised."""
        return self.bound and self._bound_at is not None and time.monotonic() - self._bound_at >= RECEIPT_GRACE

    async def start(self, *, on_receipt: Receipt, on_reply: Reply) -> None:
        self._on_receipt, self._on_reply = on_receipt, on_reply
        s = self._settings
        self._esme = ESME(smsc_host=s["host"], smsc_port=s["port"], system_id=s["system_id"], password=s["password"],
                          bind_mode=BindMode.TRANSCEIVER, hook=_Hook(self), broker=self._parts,
                          enquire_link_interval=float(self._enquire_link_seconds), log_level=logging.WARNING,
                          socket_timeout=10.0, client_id="respons",
                          # SMPP leaves data_coding 0 to the SMSC; in Norway it is GSM 03.38 (the
                          # library would read replies as ASCII and lose æ, ø and å).
                          default_encoding="gsm0338",
                          # Back within 4 s of an SMSC that returns (the library's default waits up to 32 s).
                          retry_timer=SimpleExponentialBackoff(min_delay=500, max_increases=3))
        self._task = asyncio.get_running_loop().create_task(self._esme.start(), name="respons-smpp")
        self._reader = asyncio.get_running_loop().create_task(self._read_inbox(), name="respons-smpp-inbox")

    async def stop(self) -> None:
        if self._esme is not None:
            try:
                await asyncio.wait_for(self._esme.stop(), 5)
            except (asyncio.TimeoutError, OSError):
                pass
        if self._reader is not None:
            self._reader.cancel()
        # What the SMSC was told we have: record it before going (for a while).
        pending = [*self._recording, *(asyncio.ensure_future(self._record(self._inbox.get_nowait()))
                                       for _ in range(self._inbox.qsize()))]
        if pending:
            await asyncio.wait(pending, timeout=5)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping: its end is not news
                pass
        for future in self._waiting.values():
            if not future.done():
                future.cancel()

    async def send(self, uid: str, to: str, body: str, reference: int, attempt: int = 0) -> rules.Result:
        """Each part in turn; the SMSC's ids when it took them all."""
        if not self.bound:
            return rules.Result(rules.RETRY, error="the SMSC is not connected", again_in=rules.FIRST_RETRY)
        encoded = texts.encode(body, reference)
        refs: list[str] = []
        for index, part in enumerate(encoded.parts):
            # One id per part and attempt: a part from an earlier attempt that the session still
            # holds is never mistaken for this one.
            log_id = f"{uid}/{attempt}/{index + 1}"
            message = SubmitSm(short_message=body[:1] or " ", source=self._sender, destination=address(to),
                               esm_class=0x40 if encoded.split else 0, registered_delivery=0b1, log_id=log_id,
                               encoding="gsm0338" if encoded.data_coding == texts.GSM_DEFAULT else "ucs2")
            # Our own bytes (header and septets); the library only frames them. With
            # auto_message_payload (its default) it does not split again.
            message.set_encoded_message(part)
            future = asyncio.get_running_loop().create_future()
            self._waiting[log_id] = future
            await self._parts.enqueue(message)
            try:
                answer = await self._answer_for(future, log_id)
            except asyncio.TimeoutError as exc:
                error = f"{exc} (part {index + 1} of {len(encoded.parts)})"
                if self._parts.withdraw(log_id) and not refs:
                    return rules.Result(rules.RETRY, error=error, again_in=rules.FIRST_RETRY)
                # Handed to the session (or an earlier part went): the SMSC may have it. Tried
                # again only after its receipts had time to say so (store.recover_interrupted).
                return rules.Result(rules.RETRY, tuple(refs), error=error, uncertain=True)
            finally:
                self._waiting.pop(log_id, None)
            if isinstance(answer, BaseException):
                return rules.Result(rules.RETRY, tuple(refs), error=f"{type(answer).__name__}: {answer}"[:300],
                                    uncertain=bool(refs))
            status, message_id = answer
            verdict = rules.smpp_verdict(status)
            if verdict != rules.SENT_OK:
                # A later part refused after earlier ones went: the person may have the first
                # parts. Refused for good, the message fails (the next of kin rule moves the
                # alarm on); to be tried again, it waits for the earlier parts' receipts first.
                return rules.Result(verdict, tuple(refs), error=f"SMSC answered {_status_name(status)} to part {index + 1}",
                                    uncertain=bool(refs) and verdict == rules.RETRY)
            refs.append(message_id)
        return rules.Result(rules.SENT_OK, tuple(refs))

    async def _answer_for(self, future: asyncio.Future, log_id: str):
        """The SMSC's answer to a part; TimeoutError when it does not come in time, or at once
        when the session drops while the part still waits to be sent (it never will be)."""
        deadline = time.monotonic() + self._answer_seconds
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(future), min(0.5, max(0.0, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                if not self.bound and self._parts.waiting(log_id):
                    raise asyncio.TimeoutError("the session to the SMSC dropped before it was sent") from None
                if time.monotonic() >= deadline:
                    raise asyncio.TimeoutError(f"the SMSC did not answer in {self._answer_seconds:g} s") from None

    def _answer(self, log_id: str, answer) -> None:
        future = self._waiting.get(log_id)
        if future is not None and not future.done():
            future.set_result(answer)

    async def _received(self, message: SmppMessage | None) -> None:
        if isinstance(message, BindTransceiverResp):
            self._bound_at = time.monotonic()
        elif isinstance(message, SubmitSmResp):
            self._answer(message.log_id, (int(message.command_status), message.message_id))
        elif isinstance(message, DeliverSm):
            # Not handled on the library's receive loop: a slow commit there would hold back
            # every submit_sm_resp and enquire_link on the session (and drop it).
            self._inbox.put_nowait(message)

    async def _read_inbox(self) -> None:
        while True:
            # Each on its way at once, up to INBOX_BATCH together (they share the journal's
            # group commits): the SMSC counts them as delivered, so their wait for the commit
            # is kept short, and one that keeps failing holds up no other.
            message = await self._inbox.get()
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._record(message))
            self._recording.add(task)
            task.add_done_callback(self._recorded)

    def _recorded(self, task: asyncio.Task) -> None:
        self._recording.discard(task)
        self._slots.release()

    async def _record(self, message: DeliverSm) -> None:
        for wait in INBOX_RETRIES:
            try:
                await self._delivered(message)
                return
            except Exception:  # noqa: BLE001 - the database may be back in a moment
                if wait is None:
                    log.exception("could not record a receipt or reply from the SMSC; it is lost")
                else:
                    await asyncio.sleep(wait)

    async def _delivered(self, message: DeliverSm) -> None:
        number = e164(message.source.number, message.source.ton)
        if message.is_receipt():
            receipt = message.parse_receipt()
            ref = str(receipt.get("id") or "")
            if ref and self._on_receipt is not None:
                await self._on_receipt(ref, str(receipt.get("stat") or ""), number, str(receipt.get("text") or ""))
        elif self._on_reply is not None:
            await self._on_reply(number, message.short_message or message.message_payload)


def _status_name(status: int) -> str:
    try:
        return SmppCommandStatus(status).name
    except ValueError:
        return f"0x{status:02X}"
