"""One home for every command: ``--home``, announcing a new home, finding the running server.

Every ``chroma-sync`` command works on one home folder (catalog, Chroma store, models, uploads):
``--home``, else ``CHROMA_SYNC_HOME``, else ``~/.chroma-sync``. The root app takes ``--home``
before the command (``chroma-sync --home X token list``) and :func:`accept_home` gives every
command that has no ``--home`` of its own the same option (``chroma-sync token list --home X``);
both point ``CHROMA_SYNC_HOME`` (and so the settings) at the folder while the command runs
(:func:`home_scope`). A command that creates a home that did not exist says so on stderr, once;
commands that only read refuse a missing home instead of creating an empty one
(:func:`require_catalog`); client commands that talk HTTP find the API in the ``serve.json`` of
the home (:func:`server_url`) unless ``--url`` / ``CHROMA_SYNC_URL`` names it.
"""

import contextlib
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar, get_type_hints

import typer

from sync_pipelines.serve_record import read_record, record_path
from sync_pipelines.settings import get_settings

HOME_ENV: Final = "CHROMA_SYNC_HOME"
#: The end of every message about a home that is not the one meant.
HOME_HINT: Final = "pass --home or set CHROMA_SYNC_HOME to the home the server uses"
#: The line (on stderr) of a command that created a home.
HOME_CREATED: Final = (
    "chroma-sync: created home {home} (set --home or CHROMA_SYNC_HOME to use another)"
)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        file_okay=False,
        show_default=False,
        help="Home folder: catalog, Chroma store, models and the running serve's serve.json "
        "(default CHROMA_SYNC_HOME, else ~/.chroma-sync).",
    ),
]

_announced: set[Path] = set()
F = TypeVar("F", bound=Callable[..., Any])


def use_home(home: Path | None) -> None:
    """Make ``home`` the home from now on: set ``CHROMA_SYNC_HOME``, clear the settings cache.

    Child processes inherit it. ``None`` changes nothing (``CHROMA_SYNC_HOME`` or the default
    applies); :func:`home_scope` undoes it afterwards.

    Args:
        home: The folder from ``--home``, or None.
    """
    if home is None:
        return
    os.environ[HOME_ENV] = str(home.expanduser().resolve())
    get_settings.cache_clear()


@contextlib.contextmanager
def home_scope(home: Path | None) -> Iterator[None]:
    """:func:`use_home` for the block only (the previous ``CHROMA_SYNC_HOME`` comes back)."""
    previous = os.environ.get(HOME_ENV)
    use_home(home)
    try:
        yield
    finally:
        if home is not None:
            if previous is None:
                os.environ.pop(HOME_ENV, None)
            else:
                os.environ[HOME_ENV] = previous
            get_settings.cache_clear()


def root_home(context: typer.Context, home: HomeOption = None) -> None:
    """The root app's callback: ``chroma-sync --home X COMMAND`` applies X to the command."""
    context.with_resource(home_scope(home))


def announce_home(home: Path) -> None:
    """Say once on stderr that ``home`` was just created (the user may have meant another)."""
    if home in _announced:
        return
    _announced.add(home)
    typer.echo(HOME_CREATED.format(home=home), err=True)


def ensure_home(target: Path | None = None) -> Path:
    """Create the home (announcing it) if it is missing and about to be written.

    Args:
        target: What the command writes; the home is only made when it lies inside it.

    Returns:
        The home folder.
    """
    home = get_settings().home_dir
    if not home.exists() and (target is None or target.expanduser().is_relative_to(home)):
        home.mkdir(parents=True, exist_ok=True)
        announce_home(home)
    return home


@contextlib.contextmanager
def announcing_new_home() -> Iterator[None]:
    """Announce the home if it did not exist before the block and does after it."""
    home = get_settings().home_dir
    existed = home.exists()
    try:
        yield
    finally:
        if not existed and home.exists():
            announce_home(home)


def with_home(command: F) -> F:
    """``command`` with a ``--home`` option (unless it has its own) and the new-home notice."""
    signature = inspect.signature(command, eval_str=True)
    if "home" in signature.parameters:
        return command
    hints = get_type_hints(command, include_extras=True)

    @functools.wraps(command)
    def run(*args: Any, home: Path | None = None, **kwargs: Any) -> Any:
        with home_scope(home), announcing_new_home():
            return command(*args, **kwargs)

    option = inspect.Parameter(
        "home", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=HomeOption
    )
    parameters = [*signature.parameters.values(), option]
    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {**hints, "home": HomeOption}
    return run  # type: ignore[return-value]


def accept_home(app: typer.Typer) -> None:
    """Give every command of ``app`` and of its sub-apps ``--home`` (see :func:`with_home`)."""
    for command in app.registered_commands:
        if command.callback is not None:
            command.callback = with_home(command.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            accept_home(group.typer_instance)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite SQLAlchemy URL; None for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return None if database.startswith("file:") else Path(database).expanduser()


def require_catalog() -> None:
    """Refuse (exit 1) to read a SQLite catalog that does not exist rather than create it.

    Raises:
        typer.Exit: The catalog file (or the whole home) is missing.
    """
    settings = get_settings()
    path = sqlite_file(settings.resolved_catalog_url)
    if path is None or path.exists():
        return
    raise _fail(missing(path, "catalog"))


def missing(path: Path, what: str) -> str:
    """The error message for ``what`` (a catalog, a store) missing at ``path``.

    It names the home instead when the home, holding ``path``, does not exist either.
    """
    home = get_settings().home_dir
    if not home.exists() and path.is_relative_to(home):
        return f"no chroma-sync home at {home}: {HOME_HINT}"
    return f"no {what} at {path}: {HOME_HINT}"


def server_url(url: str | None) -> str:
    """The API's base URL: ``url`` (``--url`` / ``CHROMA_SYNC_URL``), else the home's serve.

    Raises:
        typer.Exit: No URL given and no ``serve`` runs on the home (or no home at all).
    """
    if url:
        return url
    home = get_settings().home_dir
    record = read_record(home)
    if record is not None and record.alive():
        return record.api_url
    if not home.exists():
        reason = f"no chroma-sync home at {home}"
    elif record is not None:
        reason = f"the serve recorded in {record_path(home)} (pid {record.pid}) is gone"
    else:
        reason = f"no chroma-sync serve runs on home {home} (no {record_path(home).name})"
    raise _fail(
        f"{reason}: start `chroma-sync serve --home {home}`, pass --home for the home it runs "
        "on, or give the API's --url (CHROMA_SYNC_URL)"
    )
