"""Two imports that libraries make at import time and our processes defer to first use.

`install()` runs once, from `mrt/__init__.py`, so before any module of ours imports httpx or
peewee; it watches for their first import (nothing is done for a library some other code
imported first, nor for one never imported):

- httpx's `__init__` imports `httpx._main`, its command line client, which imports click,
  rich and pygments whenever they are installed (they are, for Apprise and Textual): ~20 ms
  and a few MiB in every process, for a command we never run. `httpx._main` is held by a
  stand-in module until something asks it for more than httpx's `__init__` takes from it
  (`main`); then the real module is imported in its place. `httpx.main()` still runs the
  client.
- peewee imports psycopg2 (with libpq: ~5 MiB) whenever it is installed, so every SQLite
  worker, console and CLI would load PostgreSQL's driver. While peewee's own module runs,
  psycopg2 is made unimportable, so peewee records "no psycopg2"; right after, psycopg2 is
  importable again for anyone. `load_postgres_driver()`, called by `mrt.store.db` before it
  opens a postgresql:// URL, imports psycopg2 and gives peewee what its import would have set.
  playhouse.migrate (the migrations' column steps) imports psycopg2 through
  playhouse.cockroachdb the same way: for an SQLite database it is imported under
  `without_postgres_driver()` too (mrt.store.migrations), so a worker whose first start
  migrates its file does not keep libpq for the rest of its life either.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importlib.abc imports importlib.resources, tempfile ...: ~6 ms at start
    from importlib.abc import Loader

HTTPX = "httpx"
HTTPX_CLI = "httpx._main"
PEEWEE = "peewee"
POSTGRES_DRIVER = "psycopg2"


def install() -> None:
    """Watch for the first import of httpx and of peewee (nothing is done for one already
    imported): nothing is loaded or put in sys.modules before then."""
    pending = {name for name in (HTTPX, PEEWEE) if name not in sys.modules}
    if pending and not any(isinstance(f, _FirstImports) for f in sys.meta_path):
        sys.meta_path.insert(0, _FirstImports(pending))


def _real_httpx_cli() -> ModuleType:
    stand_in = sys.modules.get(HTTPX_CLI)
    if isinstance(stand_in, _DeferredHttpxCli):
        del sys.modules[HTTPX_CLI]
    module = importlib.import_module(HTTPX_CLI)
    parent = sys.modules.get("httpx")
    if parent is not None:
        vars(parent)["_main"] = module  # what importing the submodule would have set
    return module


def _httpx_main(*args: Any, **kwargs: Any) -> Any:
    return _real_httpx_cli().main(*args, **kwargs)


class _DeferredHttpxCli(ModuleType):
    """`httpx._main` until used: `main` (what httpx's `__init__` imports from it) loads the
    real module and calls its `main`; any other attribute loads it and reads it there."""

    main: Callable[..., Any] = staticmethod(_httpx_main)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_httpx_cli(), name)


class _FirstImports:  # an importlib.abc.MetaPathFinder, first in sys.meta_path until done
    """At httpx's first import, puts the stand-in for `httpx._main` in sys.modules and lets
    the other finders find httpx; finds peewee as the path finder does, with a loader that
    keeps psycopg2 out of it."""

    def __init__(self, pending: set[str]) -> None:
        self.pending = pending

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.pending:
            return None
        self.pending.discard(fullname)  # once: each is imported once
        if not self.pending:
            sys.meta_path.remove(self)
        if fullname == HTTPX:
            if HTTPX_CLI not in sys.modules:
                sys.modules[HTTPX_CLI] = _DeferredHttpxCli(HTTPX_CLI)
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _WithoutPostgresDriver(spec.loader)  # type: ignore[assignment]
        return spec


class _WithoutPostgresDriver:  # an importlib.abc.Loader
    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with without_postgres_driver():
            self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename ... as the real one
        return getattr(self._loader, name)


@contextmanager
def without_postgres_driver() -> Iterator[None]:
    """While inside, `import psycopg2` fails (unless something imported it before): for a
    library module that imports it when it can and does without when it cannot."""
    blocked = POSTGRES_DRIVER not in sys.modules
    if blocked:
        sys.modules[POSTGRES_DRIVER] = None  # type: ignore[assignment]  # import fails
    try:
        yield
    finally:
        if blocked and sys.modules.get(POSTGRES_DRIVER, False) is None:
            del sys.modules[POSTGRES_DRIVER]


def load_postgres_driver() -> bool:
    """Give peewee psycopg2 if its import went without it: what peewee's module does when it
    finds psycopg2 at import (peewee 4, as pinned; tests/test_deferred_imports.py
    compares the result with the installed peewee's own import). False when psycopg2 is not
    installed."""
    import peewee

    state = vars(peewee)  # the module's globals: the names its import would have bound
    if state.get(POSTGRES_DRIVER) is not None:
        return True
    try:
        import psycopg2
        from psycopg2 import extensions
        from psycopg2.extras import Json, register_uuid
    except ImportError:
        return False
    register_uuid()
    adapter = state["Psycopg2Adapter"]  # peewee 4 (pyproject.toml pins it)
    adapter.txn_idle = extensions.TRANSACTION_STATUS_IDLE
    adapter.txn_inerror = extensions.TRANSACTION_STATUS_INERROR
    adapter.txn_unknown = extensions.TRANSACTION_STATUS_UNKNOWN
    state.update(pg_extensions=extensions, Json_pg2=Json, pg_register_uuid=register_uuid)
    state[POSTGRES_DRIVER] = psycopg2  # last: it says the rest is there
    return True
