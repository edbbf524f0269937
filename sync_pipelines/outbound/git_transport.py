"""The outbound policy applied to git's own connections.

git opens its sockets itself, so the policy reaches it through git configuration, computed
right before each network command:

- ``http``/``https``: the host is resolved and checked here, and libcurl is pinned to exactly
  the permitted addresses (``http.curloptResolve``); redirects are not followed (they would
  lead to an unchecked host).
- ``git``: ``core.gitProxy`` runs :mod:`sync_pipelines.outbound.connect`, which checks and
  connects.
- ``ssh``: ``ProxyCommand`` runs the same command (batch mode, no prompts).
- ``file``: only under the operator's local roots.

Every command may use only the one protocol of its URL (``protocol.allow=never`` otherwise).
"""

import json
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sync_pipelines.outbound.checks import (
    DEFAULT_PORTS,
    OutboundRefused,
    local_repository,
    url_parts,
)
from sync_pipelines.outbound.connect import POLICY_ENV
from sync_pipelines.outbound.policy import AddressPolicy, BlockedAddressError

ConfigPairs = list[tuple[str, str]]


class GitTransportRefused(Exception):
    """The repository URL is refused by the outbound policy (the message is safe to show)."""


@dataclass(frozen=True)
class GitTransport:
    """How git may connect: the address policy, local roots and where the proxy script lives.

    Args:
        policy: The outbound address policy.
        local_roots: Folders ``file://`` repositories may lie under.
        script_dir: Folder for the proxy command script (created on demand).
    """

    policy: AddressPolicy
    local_roots: tuple[Path, ...] = ()
    script_dir: Path = field(default_factory=lambda: Path.home() / ".chroma-sync" / "git")

    def settings(self, url: str) -> tuple[ConfigPairs, dict[str, str]]:
        """Return the git config pairs and environment a network command for ``url`` needs.

        Raises:
            GitTransportRefused: The URL, its host or every address of it is refused.
        """
        scheme = urlsplit(url).scheme.lower()
        config: ConfigPairs = [("protocol.allow", "never"), (f"protocol.{scheme}.allow", "always")]
        try:
            if scheme == "file":
                local_repository(url, "", self.local_roots, "repository URL")
                return config, {}
            parts = url_parts(url, "repository URL", tuple(DEFAULT_PORTS))
            host = (parts.hostname or "").strip("[]")
            port = parts.port or DEFAULT_PORTS[scheme]
            if scheme in ("http", "https"):
                config += [("http.followRedirects", "false"), self._pin(host, port)]
                return config, {}
        except OutboundRefused as exc:
            raise GitTransportRefused(exc.reason) from None
        except BlockedAddressError as exc:
            raise GitTransportRefused(f"refused by the outbound policy: {exc}") from None
        script = self._script()
        env = {POLICY_ENV: json.dumps(list(self.policy.allow))}
        if scheme == "git":
            return [*config, ("core.gitProxy", str(script))], env
        proxy = shlex.quote(f"{shlex.quote(str(script))} {shlex.quote(host)} {port}")
        ssh = f"ssh -o BatchMode=yes -o ProxyCommand={proxy}"
        return [*config, ("core.sshCommand", ssh)], env

    def _pin(self, host: str, port: int) -> tuple[str, str]:
        try:
            infos = self.policy.permitted_addresses(host, port)
        except OSError as exc:
            raise GitTransportRefused(f"cannot resolve {host}: {exc}") from None
        addresses = ",".join(
            f"[{info[4][0]}]" if ":" in str(info[4][0]) else str(info[4][0]) for info in infos
        )
        return "http.curloptResolve", f"{host}:{port}:{addresses}"

    def _script(self) -> Path:
        """Write (if needed) the executable git and ssh run as their proxy command."""
        script = self.script_dir / ".chroma-sync-connect"
        text = (
            "#!/bin/sh\n"
            f'exec {shlex.quote(sys.executable)} -m sync_pipelines.outbound.connect "$@"\n'
        )
        try:
            if script.read_text() == text:
                return script
        except OSError:
            pass
        self.script_dir.mkdir(parents=True, exist_ok=True)
        temp = script.with_name(f".chroma-sync-connect.{os.getpid()}")
        temp.write_text(text)
        temp.chmod(0o700)
        temp.replace(script)
        return script
