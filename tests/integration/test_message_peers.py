"""The local message peers themselves (tests/message_peers.py): what the messaging tests rely on
them for, checked with clients nobody here wrote — aiosmpplib's SMPP PDUs and splitter on a
plain socket, httpx, and pywebpush for the push service."""

from __future__ import annotations

import base64
import json
import queue
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from aiosmpplib import (
    NPI,
    TON,
    BindTransceiver,
    DeliverSm,
    DeliverSmResp,
    GSM7BitCodec,
    PhoneNumber,
    SmppCommand,
    SmppCommandStatus,
    SmppMessage,
    SubmitSm,
)
from aiosmpplib.protocol import MESSAGE_TYPE_MAP
from aiosmpplib.state import MESSAGE_STATE, RECEIPTED_MESSAGE_ID
from aiosmpplib.utils import split_sms_udh

from tests.chaos.server import free_port
from tests.message_peers import assembled, push_service_or_skip, smsc_or_skip

PHONE = "+4791234567"
SENDER = PhoneNumber("Respons", TON.ALPHANUMERIC, NPI.UNKNOWN)
LONG_GSM = ("Trygghetsalarm: Kari Nordmann (87 år) på Bjørkåsen 12 i Ås har utløst alarmen kl. 03:14. "
            "Hjemmetjenesten er varslet og på vei. Egenandel for utrykning: 250 € [faktura A-12]. "
            "Svar OK for å bekrefte at du har fått meldingen, eller ring vakta på 22 22 22 22. ÆØÅ æøå ~ |")
LONG_UCS2 = ("Dorvvolašalárbma: Áillu Niillas Čárppot – 91 jagi – lea álggahan alárbma. Ruovttubálvalus "
             "lea dieđihuvvon ja lea boahtimin. Vástit OK jus don leat ožžon dieđu. Ŋ đ ŧ ž š")


class Esme:
    """An SMPP client: aiosmpplib's PDUs over a socket. A reader thread answers every deliver_sm
    and keeps it in ``delivered``; one request at a time."""

    def __init__(self, port: int):
        self._socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._socket.settimeout(None)  # the reader waits as long as the connection lasts
        self._send_lock = threading.Lock()
        self._responses: queue.Queue = queue.Queue()
        self.delivered: queue.Queue[DeliverSm] = queue.Queue()
        self.closed = threading.Event()
        self._sequence = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self._socket.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _read(self) -> None:
        try:
            while (head := self._exactly(16)) is not None:
                header = SmppMessage.parse_header(head)
                pdu = head + (self._exactly(header.pdu_length - 16) or b"")
                if header.smpp_command == SmppCommand.DELIVER_SM:
                    self.delivered.put(DeliverSm.from_pdu(pdu, header, "gsm0338"))
                    self._send(DeliverSmResp(sequence_num=header.sequence_num).pdu())
                else:
                    kind = MESSAGE_TYPE_MAP[header.smpp_command]
                    # SMPP 3.4 §4.1: an error response has no body, which aiosmpplib cannot parse.
                    self._responses.put(kind.from_pdu(pdu, header) if len(pdu) > 16 else
                                        kind(sequence_num=header.sequence_num, command_status=header.command_status))
        except OSError:
            pass
        finally:
            self.closed.set()

    def _send(self, pdu: bytes) -> None:
        with self._send_lock:
            self._socket.sendall(pdu)

    def request(self, message: SmppMessage) -> SmppMessage:
        self._sequence += 1
        message.sequence_num = self._sequence
        self._send(message.pdu())
        while (response := self._responses.get(timeout=10)).sequence_num != self._sequence:
            pass
        return response

    def bind(self, system_id: str = "respons", password: str = "secret") -> SmppCommandStatus:
        return self.request(BindTransceiver(system_id=system_id, password=password)).command_status

    def submit(self, octets: bytes, *, to: str = PHONE, ucs2: bool = False, udh: bool = False,
               registered_delivery: int = 0) -> SmppMessage:
        message = SubmitSm(short_message="-", source=SENDER, destination=PhoneNumber(to, TON.INTERNATIONAL, NPI.ISDN),
                           esm_class=0x40 if udh else 0, registered_delivery=registered_delivery,
                           encoding="ucs2" if ucs2 else None)
        message.set_encoded_message(octets)  # sent as they are; short_message above only satisfies the constructor
        return self.request(message)

    def close(self) -> None:
        try:
            self._socket.shutdown(socket.SHUT_RDWR)  # the FIN now, though the reader is in recv()
        except OSError:
            pass
        self._socket.close()
        self.closed.wait(5)


def gsm(text: str) -> bytes:
    return GSM7BitCodec.get_codec_info().encode(text)[0]


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def smsc(tmp_path):
    server = smsc_or_skip(free_port(), free_port(), tmp_path / "smsc.jsonl", tmp_path / "smsc.log").start()
    yield server
    server.stop()


@pytest.fixture
def esme(smsc):
    clients = []

    def bound() -> Esme:
        client = Esme(smsc.port)
        assert client.bind() == SmppCommandStatus.ESME_ROK
        clients.append(client)
        return client

    yield bound
    for client in clients:
        client.close()


def test_a_bind_with_a_wrong_password_is_refused_and_the_connection_closed(smsc, esme):
    client = Esme(smsc.port)
    assert client.bind(password="wrong") == SmppCommandStatus.ESME_RINVPASWD
    assert client.closed.wait(5)
    assert smsc.bound() == 0
    esme()
    assert smsc.bound() == 1


@pytest.mark.parametrize("text, ucs2", [(LONG_GSM, False), (LONG_UCS2, True)], ids=["gsm-with-extension", "ucs2"])
def test_a_long_text_in_parts_comes_back_whole_with_its_octets_as_sent(smsc, esme, text, ucs2):
    parts = split_sms_udh(text, "ucs2" if ucs2 else "gsm0338", 42)
    client = esme()
    ids = [client.submit(part, ucs2=ucs2, udh=True).message_id for part in parts]
    records = smsc.messages()
    assert len(parts) > 1 and len(set(ids)) == len(parts)
    assert [r["short_message_hex"] for r in records] == [part.hex() for part in parts]
    assert [r["udh"] for r in records] == [{"ref": 42, "total": len(parts), "seq": n + 1} for n in range(len(parts))]
    assert {r["data_coding"] for r in records} == {8 if ucs2 else 0}
    assert assembled(records) == [{"source": "Respons", "destination": PHONE, "text": text, "segments": len(parts),
                                   "message_ids": ids, "complete": True}]


def test_receipts_come_to_the_client_and_wait_for_it_while_it_is_away(smsc, esme, tmp_path):
    client = esme()
    sent = client.submit(gsm("Hjelp er på vei"), registered_delivery=1)
    receipt = client.delivered.get(timeout=10)
    fields = receipt.parse_receipt()
    tlvs = {p.tag: p.value for p in receipt.optional_params}
    assert receipt.is_receipt() and receipt.source.number == PHONE and receipt.destination.number == "Respons"
    assert (fields["id"], fields["stat"], fields["err"], fields["text"]) == (sent.message_id, "DELIVRD", 0,
                                                                             "Hjelp er på vei")
    assert (tlvs[RECEIPTED_MESSAGE_ID], tlvs[MESSAGE_STATE]) == (sent.message_id, 2)

    smsc.undeliverable("+4798765432")
    failed = client.submit(gsm("Ingen svar"), to="+4798765432", registered_delivery=1)
    client.close()
    log = tmp_path / "smsc.log"
    wait_for(lambda: f"receipt queued id={failed.message_id}" in log.read_text(), "the receipt to be queued")
    receipt = esme().delivered.get(timeout=10)
    tlvs = {p.tag: p.value for p in receipt.optional_params}
    assert (receipt.parse_receipt()["stat"], tlvs[RECEIPTED_MESSAGE_ID], tlvs[MESSAGE_STATE]) == (
        "UNDELIV", failed.message_id, 5)


def test_a_throttled_submit_is_answered_0x58_and_not_kept(smsc, esme):
    client = esme()
    smsc.throttle(1)
    assert client.submit(gsm("Første")).command_status == SmppCommandStatus.ESME_RTHROTTLED == 0x58
    assert client.submit(gsm("Andre")).command_status == SmppCommandStatus.ESME_ROK
    assert [m["text"] for m in smsc.messages()] == ["Andre"]


def test_a_persons_sms_reaches_a_bound_transceiver(smsc, esme):
    with pytest.raises(httpx.HTTPStatusError) as refused:
        smsc.mo(PHONE, "2222", "OK")
    assert refused.value.response.status_code == 409
    client = esme()
    assert smsc.mo(PHONE, "2222", "OK – på vei") == {"sessions": 1, "statuses": [0]}
    message = client.delivered.get(timeout=10)
    assert not message.is_receipt() and message.esm_class == 0
    assert (message.source.number, message.destination.number, message.short_message) == (PHONE, "2222", "OK – på vei")
    assert message.encoding == "ucs2"  # the dash is not in the GSM alphabet


def test_the_http_api_takes_a_reference_once(smsc):
    headers = {"Authorization": f"Bearer {smsc.http_token}"}
    body = {"to": PHONE, "from": "Respons", "text": "Alarm: Kari Nordmann trenger hjelp. Svar OK.",
            "reference": "alarm-17-1"}
    first = httpx.post(smsc.http_url, json=body, headers=headers)
    again = httpx.post(smsc.http_url, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() == {"id": first.json()["id"], "reference": "alarm-17-1", "parts": 1}
    assert [(m["via"], m["reference"]) for m in smsc.messages()] == [("http", "alarm-17-1")]
    assert httpx.post(smsc.http_url, json=body).status_code == 401
    assert httpx.post(smsc.http_url, json={**body, "to": "91234567"}, headers=headers).status_code == 400


def test_the_http_api_calls_back_with_the_outcome(smsc):
    calls: queue.Queue = queue.Queue()

    class Callback(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.put((self.headers["Authorization"], json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", free_port()), Callback)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        smsc.undeliverable("+4798765432")
        sent = httpx.post(smsc.http_url, headers={"Authorization": f"Bearer {smsc.http_token}"},
                          json={"to": "+4798765432", "text": "Hei", "reference": "r-1", "callback_token": "cb",
                                "callback_url": f"http://127.0.0.1:{receiver.server_port}/sms/status"}).json()
        authorization, outcome = calls.get(timeout=10)
    finally:
        receiver.shutdown()
    assert authorization == "Bearer cb"
    assert {k: outcome[k] for k in ("id", "reference", "status", "error")} == {
        "id": sent["id"], "reference": "r-1", "status": "failed", "error": "undeliverable"}


def test_messages_survive_a_restart_of_the_smsc(smsc, esme):
    before = esme().submit(gsm("Før omstart"))
    smsc.kill()
    smsc.start()
    after = esme().submit(gsm("Etter omstart"))
    assert [(m["message_id"], m["text"]) for m in smsc.messages()] == [(before.message_id, "Før omstart"),
                                                                        (after.message_id, "Etter omstart")]
    assert before.message_id != after.message_id


def test_the_push_service_keeps_what_a_web_push_client_sent_and_can_expire(tmp_path):
    pywebpush = pytest.importorskip("pywebpush")
    from py_vapid import Vapid
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    push = push_service_or_skip(free_port(), tmp_path / "push.log").start()
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        subscription = push.subscribe(base64.urlsafe_b64encode(public).rstrip(b"=").decode())
        claims = {"sub": "mailto:drift@respons.example"}

        def send(data: str):
            # web-push-testing reads the body only when it is labelled application/octet-stream.
            return pywebpush.webpush(subscription, data, vapid_private_key=Vapid(key), vapid_claims=dict(claims),
                                     ttl=60, headers={"Content-Type": "application/octet-stream"})

        assert send('{"alarm": 17, "text": "Fall på badet – Ås"}').status_code == 201
        assert push.notifications(subscription["clientHash"]) == ['{"alarm": 17, "text": "Fall på badet – Ås"}']
        push.expire(subscription["clientHash"])
        with pytest.raises(pywebpush.WebPushException) as gone:
            send("again")
        assert gone.value.response.status_code == 410
    finally:
        push.stop()
