"""Python `h2` as an RFC 8441 client of switchyard: on one HTTP/2 connection (TLS with ALPN
h2 when given a CA file, else cleartext with prior knowledge), WebSockets over extended
CONNECT: echo of text, binary and a fragmented message with a close from the client; a close
from the server (after an unmasked frame, 1002); an abort (RST_STREAM) that leaves the
connection serving. Usage: h2_websocket.py HOST PORT [CA_FILE]. Prints "ok" or fails."""

import os
import socket
import ssl
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


def frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse(buf: bytearray):
    """One unmasked server frame from buf: (fin, opcode, payload), or None if incomplete."""
    if len(buf) < 2:
        return None
    assert buf[1] & 0x80 == 0, "server frames are not masked"
    n, at = buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack("!Q", buf[2:10])[0], 10
    if len(buf) < at + n:
        return None
    result = (bool(buf[0] & 0x80), buf[0] & 0x0F, bytes(buf[at : at + n]))
    del buf[: at + n]
    return result


class Client:
    def __init__(self, host: str, port: int, ca_file: str | None):
        sock = socket.create_connection((host, port), timeout=10)
        self.scheme = "http"
        if ca_file:
            context = ssl.create_default_context(cafile=ca_file)
            context.set_alpn_protocols(["h2"])
            sock = context.wrap_socket(sock, server_hostname=host)
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
            self.scheme = "https"
        self.sock = sock
        self.authority = f"{host}:{port}"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.data = {}
        self.ended = set()
        self.reset = {}
        self.responses = {}
        self.settings_received = False
        while not self.settings_received:
            self.pump()
        assert self.conn.remote_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL] == 1

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def pump(self):
        chunk = self.sock.recv(65536)
        assert chunk, "the server closed the connection"
        for event in self.conn.receive_data(chunk):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings_received = True
            elif isinstance(event, h2.events.ResponseReceived):
                self.responses[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.data.setdefault(event.stream_id, bytearray()).extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset[event.stream_id] = event.error_code
        self.flush()

    def websocket(self, path: str) -> int:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", self.scheme),
                (":path", path),
                (":authority", self.authority),
                ("sec-websocket-version", "13"),
            ],
        )
        self.flush()
        while stream not in self.responses:
            self.pump()
        headers = self.responses[stream]
        assert headers[b":status"] == b"200", headers
        assert b"sec-websocket-accept" not in headers, headers
        return stream

    def send(self, stream: int, data: bytes):
        """Sends within the flow-control windows, waiting for WINDOW_UPDATEs."""
        while data:
            room = min(self.conn.local_flow_control_window(stream), self.conn.max_outbound_frame_size)
            if room <= 0:
                self.pump()
                continue
            self.conn.send_data(stream, data[:room])
            data = data[room:]
            self.flush()

    def next_frame(self, stream: int):
        buf = self.data.setdefault(stream, bytearray())
        while True:
            parsed = parse(buf)
            if parsed:
                return parsed
            assert stream not in self.ended, "END_STREAM before the frame"
            self.pump()

    def get(self, path: str) -> bytes:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream,
            [(":method", "GET"), (":scheme", self.scheme), (":path", path), (":authority", self.authority)],
            end_stream=True,
        )
        self.flush()
        while stream not in self.ended:
            self.pump()
        assert self.responses[stream][b":status"] == b"200"
        return bytes(self.data.get(stream, b""))


def main(host: str, port: int, ca_file: str | None):
    c = Client(host, port, ca_file)

    # Echo, then a close from the client: the server answers 1000 and ends the stream.
    ws = c.websocket("/echo")
    c.send(ws, frame(0x1, b"hello over h2"))
    assert c.next_frame(ws) == (True, 0x1, b"hello over h2")
    blob = bytes(range(256)) * 300
    c.send(ws, frame(0x2, blob))
    assert c.next_frame(ws) == (True, 0x2, blob)
    c.send(ws, frame(0x1, b"frag", fin=False) + frame(0x0, b"men", fin=False) + frame(0x0, b"ted"))
    fin, opcode, payload = c.next_frame(ws)
    assert (fin, opcode, payload) == (True, 0x1, b"fragmented"), (fin, opcode, payload)
    c.send(ws, frame(0x8, struct.pack("!H", 1000) + b"bye"))
    fin, opcode, payload = c.next_frame(ws)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1000, payload
    while ws not in c.ended:
        c.pump()
    c.conn.end_stream(ws)
    c.flush()

    # A close from the server: an unmasked frame is a protocol error (RFC 6455 §5.1), 1002.
    ws = c.websocket("/echo")
    c.send(ws, frame(0x1, b"unmasked", masked=False))
    fin, opcode, payload = c.next_frame(ws)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002, payload
    c.send(ws, frame(0x8, struct.pack("!H", 1002)))
    while ws not in c.ended:
        c.pump()
    c.conn.end_stream(ws)
    c.flush()

    # An abort: RST_STREAM(CANCEL) mid-message; the connection keeps serving.
    ws = c.websocket("/echo")
    c.send(ws, frame(0x1, b"half", fin=False))
    c.conn.reset_stream(ws, error_code=8)
    c.flush()
    assert c.get("/healthz") == b"ok\n"
    ws = c.websocket("/echo")
    c.send(ws, frame(0x1, b"after the abort"))
    assert c.next_frame(ws) == (True, 0x1, b"after the abort")

    c.conn.close_connection()
    c.flush()
    print("ok")


main(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
