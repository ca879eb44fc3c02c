"""What `slm agent` is given: the update repository and key, this device's limits, the
fleet it reports to; :meth:`AgentRequest.config` makes the agent's configuration."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from slmkit.core.options import opt


@dataclass
class AgentRequest:
    """The agent's options, in the units people give them (MB, KB/s)."""

    repo: str = opt(None, "update repository: a directory or http(s) URL", required=True)
    key: str = opt(None, "trusted public key (.pub)", metavar="PUB", required=True)
    channel: str = opt("stable", "channel to follow (default stable)")
    device_dir: str | None = opt(None, "slots and state (default: $SLM_HOME/edge)")
    device_id: str | None = opt(None, "this device's id (default: made once, kept in "
                                      "device-dir/device.json)")
    once: bool = opt(False, "poll once and exit")
    interval: float = opt(60.0, "seconds between polls (default 60)", metavar="S")
    ram_limit: float | None = opt(None, "RAM a bundle may need (default: what is available)",
                                  metavar="MB", type=float)
    bandwidth: float | None = opt(None, "download speed limit", metavar="KB/S", type=float)
    serve_port: int | None = opt(None, "also host `slm serve` on the current slot at this "
                                       "port", metavar="PORT", type=int)
    fleet: str | None = opt(None, "send heartbeats to this fleet collector", metavar="URL")
    token_file: str | None = opt(None, "this device's fleet token", metavar="FILE")
    mqtt: str | None = opt(None, "also send heartbeats to this MQTT broker and topic, signed "
                                 "with the token (mqtts:// for TLS)",
                           metavar="mqtt://HOST:PORT/TOPIC")
    mqtt_ca: str | None = opt(None, "CA certificate of an mqtts:// broker (default: the "
                                    "system's)", metavar="FILE")
    tuf_root: str | None = opt(None, "fetch the index through TUF, trusting this root "
                                     "metadata (the repository's tuf/metadata/1.root.json)",
                               metavar="ROOT")
    status: bool = opt(False, "print the device's state and exit")
    json: bool = opt(False, "machine-readable output")
    crash_at: str | None = opt(None, argparse.SUPPRESS)  # fault-injection tests only

    def config(self):
        """The :class:`~slmkit.edge.agent.AgentConfig` (bytes, bytes/s, the device dir)."""
        from slmkit.edge.agent import AgentConfig
        from slmkit.settings import get_settings

        return AgentConfig(
            repo=self.repo, public_key=self.key,
            device_dir=Path(self.device_dir or get_settings().home / "edge"),
            channel=self.channel, device_id=self.device_id,
            ram_limit=int(self.ram_limit * 2**20) if self.ram_limit else None,
            bandwidth=self.bandwidth * 1024 if self.bandwidth else None,
            crash_at=self.crash_at, tuf_root=self.tuf_root)

    def run(self, agent, report):
        """The agent's poll loop with this request's heartbeat (closed when the loop ends);
        returns the last outcome."""
        from slmkit.edge.runner import run

        heartbeat = self.heartbeat(agent.device.id)
        try:
            return run(agent, interval=self.interval, once=self.once, heartbeat=heartbeat,
                       serve_port=self.serve_port, report=report)
        finally:
            if heartbeat is not None and heartbeat.mqtt is not None:
                heartbeat.mqtt.close()

    def heartbeat(self, device_id: str):
        """The fleet :class:`~slmkit.edge.runner.Heartbeat` (HTTP and/or MQTT), or None
        without --fleet and --mqtt."""
        from slmkit.edge.runner import heartbeat_target

        return heartbeat_target(device_id, self.fleet, self.mqtt, self.token_file,
                                mqtt_ca=self.mqtt_ca)
