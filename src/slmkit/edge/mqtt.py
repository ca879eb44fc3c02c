"""Heartbeats over MQTT (``paho-mqtt``, the ``edge`` extra): the agent publishes, the
fleet collector subscribes and stores into the same SQLite as HTTP heartbeats.

A broker is often shared by other plant systems, so the broker's own login is not what
authenticates a device: each message is an envelope signed with the device's token::

    {"device_id": "gw-01", "sent": 1733300000.123, "payload": {...heartbeat...},
     "hmac": hex(HMAC-SHA256(key=sha256(token), canonical({device_id, sent, payload})))}

published to ``TOPIC/DEVICE_ID``. The token itself never crosses the broker; the key is
its sha256, which is what the collector stores (``slm fleet token``), so the collector can
check it. It accepts a message only when the topic, the envelope and the signature name
the same device, ``sent`` is within :data:`MAX_SKEW` of its clock and newer than that
device's last accepted message (a replayed message is refused). ``mqtts://`` uses TLS
(the system's CA certificates, or ``ca_file``); ``mqtt://user:password@host`` logs in to
the broker.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from slmkit.edge.manifest import canonical

MAX_SKEW = 300.0  # seconds between the device's and the collector's clocks
QOS = 1  # at least once: the broker keeps the message until the collector acknowledges


@dataclass
class BrokerURL:
    """``mqtt[s]://[user[:password]@]host[:port]/topic``."""

    host: str
    port: int
    topic: str
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> BrokerURL:
    """Parse a broker URL; ``ValueError`` saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"{url!r}: use mqtt://HOST[:PORT]/TOPIC (mqtts:// for TLS)")
    topic = parts.path.strip("/")
    if not topic or any(c in topic for c in "+#"):
        raise ValueError(f"{url!r}: name a topic without wildcards, e.g. mqtt://host/slmkit/fleet")
    tls = parts.scheme == "mqtts"
    return BrokerURL(parts.hostname, parts.port or (8883 if tls else 1883), topic, tls,
                     unquote(parts.username) if parts.username else None,
                     unquote(parts.password) if parts.password else None)


def _key(token_sha: str) -> bytes:
    return bytes.fromhex(token_sha)


def seal(device_id: str, token: str, payload: dict, sent: float | None = None) -> bytes:
    """The signed envelope of one heartbeat (see the module docstring)."""
    body = {"device_id": device_id, "sent": time.time() if sent is None else sent,
            "payload": payload}
    mac = hmac.new(_key(hashlib.sha256(token.encode()).hexdigest()), canonical(body),
                   hashlib.sha256).hexdigest()
    return json.dumps({**body, "hmac": mac}).encode()


def open_envelope(data: bytes, topic_device: str, token_sha: Callable[[str], str | None],
                  last_sent: float, now: float | None = None) -> tuple[str, float, dict]:
    """(device id, sent, payload) of a genuine envelope; ``ValueError`` with the reason
    otherwise. ``token_sha(device)`` is the stored sha256 of that device's token."""
    try:
        env = json.loads(data)
        device, sent, payload, mac = (env["device_id"], float(env["sent"]), env["payload"],
                                      str(env["hmac"]))
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"not a heartbeat envelope: {err}") from None
    if device != topic_device or not isinstance(payload, dict) or \
            payload.get("device_id", device) != device:
        raise ValueError(f"topic, envelope and payload name different devices ({topic_device}"
                         f", {device})")
    digest = token_sha(device)
    if digest is None:
        raise ValueError(f"unknown device {device} (make a token with `slm fleet token`)")
    body = {"device_id": device, "sent": env["sent"], "payload": payload}
    want = hmac.new(_key(digest), canonical(body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        raise ValueError(f"signature of {device}'s heartbeat does not match its token")
    now = time.time() if now is None else now
    if abs(now - sent) > MAX_SKEW:
        raise ValueError(f"{device}'s heartbeat was sent {now - sent:+.0f} s away from now")
    if sent <= last_sent:
        raise ValueError(f"{device}'s heartbeat is not newer than the last one (a replay)")
    return device, sent, payload


def _client(broker: BrokerURL, client_id: str, ca_file: str | None):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set(ca_certs=ca_file)
    return client


class Publisher:
    """The agent's side: one connection kept open (reconnecting in the background);
    :meth:`send` never raises, like the HTTP heartbeat."""

    def __init__(self, url: str, device_id: str, token: str, *, ca_file: str | None = None,
                 timeout: float = 10.0) -> None:
        self.broker, self.device_id, self.token = parse_url(url), device_id, token
        self.timeout = timeout
        self.client = _client(self.broker, f"slm-agent-{device_id}-{uuid.uuid4().hex[:6]}",
                              ca_file)
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.connected.clear()
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=60)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        if not reason.is_failure:  # a refused login stays "not connected"
            self.connected.set()

    def send(self, payload: dict) -> bool:
        """Publish one heartbeat (QoS 1); False when the broker did not take it in time."""
        if not self.connected.wait(self.timeout):
            return False
        info = self.client.publish(f"{self.broker.topic}/{self.device_id}",
                                   seal(self.device_id, self.token, payload), qos=QOS)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError):  # not connected (yet): the message is dropped
            return False
        return info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Subscriber:
    """The collector's side: subscribes to ``TOPIC/+`` and hands every genuine heartbeat
    to ``ingest(device_id, payload)``; refusals are counted (``rejected``) with the last
    reason, never raised."""

    def __init__(self, url: str, ingest: Callable[[str, dict], None],
                 token_sha: Callable[[str], str | None], *, ca_file: str | None = None) -> None:
        self.broker, self.ingest, self.token_sha = parse_url(url), ingest, token_sha
        self.accepted = self.rejected = 0
        self.last_error = ""
        self.ready = threading.Event()
        self._last: dict[str, float] = {}
        self.client = _client(self.broker, f"slm-fleet-{uuid.uuid4().hex[:8]}", ca_file)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = self._on_message

    def __str__(self) -> str:
        return f"subscribed to {self.broker.host}:{self.broker.port} topic {self.broker.topic}/+"

    def start(self, timeout: float = 30.0) -> None:
        """Connect and subscribe; ``RuntimeError`` when the broker does not answer."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=60)
        self.client.loop_start()
        if not self.ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"no MQTT broker answered at {self.broker.host}:"
                               f"{self.broker.port} within {timeout:.0f} s")

    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        client.subscribe(f"{self.broker.topic}/+", qos=QOS)

    def _on_message(self, client, userdata, msg) -> None:
        device = msg.topic.rsplit("/", 1)[-1]
        try:
            device, sent, payload = open_envelope(msg.payload, device, self.token_sha,
                                                  self._last.get(device, 0.0))
            self.ingest(device, payload)
        except (ValueError, OSError, sqlite3.Error) as err:  # never kill the network thread
            self.rejected += 1
            self.last_error = str(err)
            return
        self._last[device] = sent
        self.accepted += 1

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def collect(db, url: str, ca_file: str | None = None) -> Subscriber:
    """`slm fleet serve --mqtt`: a started :class:`Subscriber` storing into the fleet
    database ``db`` (:class:`~slmkit.edge.fleet.FleetDB`)."""
    sub = Subscriber(url, db.ingest, db.token_sha, ca_file=ca_file)
    sub.start()
    return sub
