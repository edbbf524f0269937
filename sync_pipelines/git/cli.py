"""Running the git CLI safely: argument lists, a clean environment, timeouts, redacted errors.

Credentials travel only in the environment (``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/
``GIT_CONFIG_VALUE_n``), never in argv, a remote URL or a config file, and every message this
module builds is scrubbed of them.
"""

import base64
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Variables of the caller's environment that would point git elsewhere or make it log secrets.
_DROPPED_PREFIXES = ("GIT_", "CURL_")
_KEPT = ("GIT_EXEC_PATH", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY")
# What git prints when the server answered 401 and prompting is off.
_AUTH_FAILURES = ("could not read Username", "could not read Password", "Authentication failed")
_NETWORK_COMMANDS = ("fetch", "ls-remote")

Transport = Callable[[], tuple[Sequence[tuple[str, str]], Mapping[str, str]]]
"""Returns the git config pairs and environment a network command needs (``outbound``)."""


class GitError(RuntimeError):
    """A git command failed; the message names the repository and git's stderr, no secrets."""


class MissingCommitError(GitError):
    """A commit is not (or no longer) in the mirror, or not on the remote."""


def basic_auth_header(token: str) -> str:
    """Return GitHub's HTTP header value for a token: ``Basic base64(x-access-token:TOKEN)``.

    Args:
        token: An installation or personal access token.

    Returns:
        The ``Authorization`` header value.
    """
    raw = f"x-access-token:{token}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def redact_url(url: str) -> str:
    """Return ``url`` without any user name or password in it.

    Args:
        url: A repository URL, possibly with ``user:password@`` in it.

    Returns:
        The same URL with the user info removed.
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class GitRunner:
    """Runs git against one bare repository with a fixed, credential-carrying environment.

    Args:
        git_dir: The bare repository every command runs in.
        url: The remote's URL, used in error messages (redacted).
        token: Optional HTTP token, sent as an ``Authorization`` header.
        timeout: Seconds any single command may take.
        transport: Called before each network command (``fetch``, ``ls-remote``) for the
            config and environment that bind git's connections to the outbound policy; it
            raises to refuse the connection.
    """

    def __init__(
        self,
        git_dir: Path,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 120,
        transport: Transport | None = None,
    ) -> None:
        self.git_dir = git_dir
        self.url = url
        self.timeout = timeout
        self._secrets = [s for s in _secret_forms(token) if s]
        self._token = token
        self._transport = transport
        self.env = _environment(token)

    def scrub(self, text: str) -> str:
        """Return ``text`` with every form of the token replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def error(self, what: str, detail: str = "", kind: type[GitError] = GitError) -> GitError:
        """Build an error naming the repository, with ``detail`` (git's stderr) scrubbed."""
        message = f"{what} ({redact_url(self.url)})"
        if any(sign in detail for sign in _AUTH_FAILURES):
            message += ": authentication failed (token missing, wrong, or without access)"
        if detail.strip():
            message += f": {detail.strip()}"
        return kind(self.scrub(message))

    def run(
        self,
        args: Sequence[str],
        *,
        what: str,
        input_bytes: bytes | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git <args>`` in the repository and return the completed process.

        Args:
            args: Arguments after ``git``; never passed through a shell.
            what: What the command does, for the error message (e.g. "fetch failed").
            input_bytes: Bytes for the command's standard input.
            check: Raise ``GitError`` when git exits non-zero.

        Returns:
            The completed process, with stdout and stderr as bytes.

        Raises:
            GitError: git failed (when ``check``), timed out, or is not installed.
        """
        argv = ["git", f"--git-dir={self.git_dir}", *args]
        env = self.env
        if self._transport is not None and args and args[0] in _NETWORK_COMMANDS:
            try:
                extra_config, extra_env = self._transport()
            except Exception as exc:  # the transport's refusal, already safe to show
                raise self.error(f"{what}: not allowed", str(exc)) from None
            env = {**_environment(self._token, extra_config), **extra_env}
        try:
            # Own session: on timeout the whole group goes, helpers (git-remote-http) included,
            # since a surviving helper would hold the pipes open.
            with subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            ) as child:
                try:
                    stdout, stderr = child.communicate(input_bytes, timeout=self.timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.communicate()
                    raise self.error(f"{what}: git timed out after {self.timeout:g} s") from None
        except OSError as exc:
            raise self.error(f"{what}: cannot run git", str(exc)) from None
        proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
        if check and proc.returncode != 0:
            raise self.error(what, proc.stderr.decode("utf-8", "replace"))
        return proc


def _secret_forms(token: str | None) -> list[str]:
    if not token:
        return []
    header = basic_auth_header(token)
    return [header, header.removeprefix("Basic "), token]


def _environment(token: str | None, extra: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_DROPPED_PREFIXES) or key in _KEPT
    }
    config: list[tuple[str, str]] = [
        # No credential helper may answer a 401 with someone else's credentials.
        ("credential.helper", ""),
        ("core.askPass", ""),
        ("gc.autoDetach", "false"),
        ("maintenance.autoDetach", "false"),
        ("protocol.version", "2"),
    ]
    if token:
        config.append(("http.extraHeader", f"Authorization: {basic_auth_header(token)}"))
    env.update(_config_env([*config, *extra]))
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "LC_ALL": "C"})
    return env


def _config_env(config: Sequence[tuple[str, str]]) -> Mapping[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env
