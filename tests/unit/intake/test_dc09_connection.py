"""The DC-09 receiver's TCP connection (``_PanelConnection``) without sockets or a database:
frames answered one at a time and in order, reading paused for a sender that runs ahead,
no new frame started while the panel does not read its answers, the end after the last
answer when the panel closes its sending side, answers given at once (a NAK) without a call
chain per frame, and a receiver's fault costing one frame its answer, not the connection."""

from __future__ import annotations

from respons.intake.dc09.receiver import MAX_UNANSWERED, _PanelConnection


class Transport:
    def __init__(self):
        self.written: list[bytes] = []
        self.reading = True
        self.closed = False

    def get_extra_info(self, name):
        return ("192.0.2.7", 40000) if name == "peername" else None

    def set_write_buffer_limits(self, high=None, low=None):
        pass

    def pause_reading(self):
        self.reading = False

    def resume_reading(self):
        self.reading = True

    def write(self, data: bytes):
        self.written.append(data)

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed


class Receiver:
    """Holds each frame until the test commits it."""

    def __init__(self):
        self.asked: list[tuple[bytes, object]] = []

    def answer(self, raw, remote, then):
        assert remote == "192.0.2.7"
        self.asked.append((raw, then))

    def commit_next(self, reply: bytes | None = b"ACK") -> bytes:
        raw, then = self.asked.pop(0)
        then(None if reply is None else reply + raw)
        return raw


class AtOnce:
    """Answers every frame within ``answer`` itself, as a NAK is answered; or raises."""

    def __init__(self, fail_on: bytes | None = None):
        self.fail_on = fail_on

    def answer(self, raw, remote, then):
        if raw == self.fail_on:
            raise RuntimeError("a fault in the receiver")
        then(b"NAK" + raw)


def frame(n: int) -> bytes:
    return b"\n" + f"frame {n}".encode() + b"\r"


def connected():
    receiver, transport = Receiver(), Transport()
    connection = _PanelConnection(receiver)
    connection.connection_made(transport)
    return connection, receiver, transport


def test_frames_are_answered_one_at_a_time_in_the_order_they_came():
    connection, receiver, transport = connected()
    connection.data_received(frame(1) + frame(2) + frame(3)[:4])
    connection.data_received(frame(3)[4:])
    assert [raw for raw, _ in receiver.asked] == [frame(1)], "the next frame waits for this one's answer"
    receiver.commit_next()
    receiver.commit_next(None)  # not committed: nothing is said, the panel sends it again
    receiver.commit_next()
    assert transport.written == [b"ACK" + frame(1), b"ACK" + frame(3)]
    assert not receiver.asked and not transport.closed


def test_a_sender_far_ahead_of_its_answers_is_paused_and_resumed():
    connection, receiver, transport = connected()
    connection.data_received(b"".join(frame(n) for n in range(MAX_UNANSWERED + 1)))
    assert not transport.reading
    answered = 0
    while not transport.reading:
        receiver.commit_next()
        answered += 1
    assert len(connection.waiting) < MAX_UNANSWERED // 2 and answered > 1
    while receiver.asked:
        receiver.commit_next()
    assert transport.written == [b"ACK" + frame(n) for n in range(MAX_UNANSWERED + 1)]


def test_no_frame_is_started_while_the_panel_does_not_read_its_answers():
    connection, receiver, transport = connected()
    connection.data_received(frame(1) + frame(2))
    connection.pause_writing()
    receiver.commit_next()
    assert not receiver.asked, "frame 2 waits until the panel reads"
    connection.resume_writing()
    assert [raw for raw, _ in receiver.asked] == [frame(2)]


def test_a_panel_that_stops_sending_gets_its_answers_then_the_end():
    connection, receiver, transport = connected()
    connection.data_received(frame(1) + frame(2))
    assert connection.eof_received() is True, "the sending side stays open for the answers"
    receiver.commit_next()
    assert not transport.closed
    receiver.commit_next()
    assert transport.written == [b"ACK" + frame(1), b"ACK" + frame(2)] and transport.closed


def test_an_answer_for_a_connection_already_gone_is_dropped():
    connection, receiver, transport = connected()
    connection.data_received(frame(1) + frame(2))
    connection.connection_lost(ConnectionResetError())
    receiver.commit_next()
    assert transport.written == [] and not receiver.asked, "frame 2 is not started for nobody"


def test_thousands_of_frames_answered_at_once_are_answered_in_order_without_recursion():
    transport = Transport()
    connection = _PanelConnection(AtOnce())
    connection.connection_made(transport)
    connection.data_received(b"".join(frame(n) for n in range(5000)))
    assert transport.written == [b"NAK" + frame(n) for n in range(5000)] and transport.reading


def test_a_frame_the_receiver_fails_on_is_not_answered_and_the_next_ones_are():
    transport = Transport()
    connection = _PanelConnection(AtOnce(fail_on=frame(1)))
    connection.connection_made(transport)
    connection.data_received(frame(0) + frame(1) + frame(2))
    connection.eof_received()
    assert transport.written == [b"NAK" + frame(0), b"NAK" + frame(2)] and transport.closed
