"""The operator console: `make_app(...)` builds it for the entry point (tui/main.py) and the tests.

Threading: every database read and write runs in a `@work(thread=True)` worker that posts a
message back; live panes re-arm their timer only after the previous poll answered, so polls
never overlap and the UI thread never waits on SQLite. The timers themselves only start workers.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar

import peewee
from textual import work
from textual.app import App
from textual.binding import ActiveBinding, Binding, BindingType
from textual.reactive import reactive
from textual.worker import get_current_worker

from mrt.events import utcnow
from mrt.store import views, workers
from mrt.store.db import DEFAULT_BUSY_TIMEOUT_MS, open_database
from mrt.store.migrations import LATEST, schema_version
from mrt.store.workers import ReloadFailure
from tui.formatting import age, safe_target
from tui.messages import DatabaseChecked, QueryTimed, StatusLoaded
from tui.palette import ActionsProvider
from tui.screens.help import HelpScreen
from tui.screens.no_database import NoDatabaseScreen, not_a_database, sqlite_schema_version

if TYPE_CHECKING:
    from mrt.config import Config
    from tui.screens.base import ConsoleScreen

T = TypeVar("T")

WORKER_DOWN_AFTER = timedelta(seconds=60)
UNDELIVERED_WINDOW = timedelta(days=7)  # the status line counts a week: one query, indexed


@dataclass(frozen=True)
class ConsoleOptions:
    """Everything the console needs to know, passed in (no module-global state)."""

    db_target: str | None  # a file path or postgresql:// URL; None: not configured
    read_only: bool = False
    config_path: str | None = None
    clock: Callable[[], datetime] = utcnow  # tests and screenshots pass a fixed clock
    poll_seconds: float = 2.0  # live panes ask for newer rows this often (after each answer)
    status_seconds: float = 5.0  # header: data age, worker heartbeat
    page_size: int = 100
    slow_seconds: float = 1.0  # a query slower than this raises the "database is slow" banner
    backup_dir: Path | None = None  # cursor-reset backups (default: backups/ by the database)
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS  # state.busy_timeout_ms (SQLite lock wait)
    initial_mode: str = "alerts"  # alerts | deliveries | sources | metrics | replay | rules
    config: Config | None = None  # rules and channels, for replay; None: see config_error
    config_error: str | None = None
    # Given (mrt-tui --db), config, config_error and backup_dir come from it on first use.
    read_config: Callable[[], Settings] | None = None


@dataclass(frozen=True)
class Settings:
    """What the console takes from the config besides the database."""

    config: Config | None = None  # rules and channels (replay, rules); None: see config_error
    config_error: str | None = None  # why there is no config (replay and rules say so)
    backup_dir: Path | None = None  # cursor-reset backups (default: backups/ by the database)


# Each mode's screen module is imported when the mode is first entered, not at start-up: the
# replay and rules screens alone pulled in mrt.replay, the rule engine and Apprise (~0.4 s).
SCREENS = {
    "alerts": "AlertsScreen",
    "deliveries": "DeliveriesScreen",
    "sources": "SourcesScreen",
    "metrics": "MetricsScreen",
    "replay": "ReplayScreen",
    "rules": "RulesScreen",
    # Issue 17's views: the operator's record, silences, every observed event.
    "audit": "AuditScreen",
    "silences": "SilencesScreen",
    "events": "EventsScreen",
}


def screen_factory(mode: str, class_name: str) -> Callable[[], ConsoleScreen]:
    """A MODES entry that imports `tui.screens.<mode>` on first use and builds its screen."""

    def make() -> ConsoleScreen:
        screen_class: type[ConsoleScreen] = getattr(
            importlib.import_module(f"tui.screens.{mode}"), class_name
        )
        return screen_class()

    return make


class MrtConsole(App[None]):
    """The app: six modes (alerts, deliveries, sources, metrics, replay, rules), a header, a palette."""

    CSS_PATH = "console.tcss"
    TITLE = "MRT console"
    # Only MRT's actions: Textual's own entries (theme, screenshot ...) would come first.
    COMMANDS = {ActionsProvider}
    MODES: ClassVar[dict[str, Callable[[], ConsoleScreen]]] = {  # type: ignore[assignment]
        mode: screen_factory(mode, class_name) for mode, class_name in SCREENS.items()
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('alerts')", "Alerts"),
        Binding("2", "switch_mode('deliveries')", "Deliveries"),
        Binding("3", "switch_mode('sources')", "Sources"),
        Binding("4", "switch_mode('metrics')", "Metrics"),
        Binding("5", "switch_mode('replay')", "Replay"),
        Binding("6", "switch_mode('rules')", "Rules"),
        Binding("7", "switch_mode('audit')", "Audit", show=False),
        Binding("8", "switch_mode('silences')", "Silences", show=False),
        Binding("9", "switch_mode('events')", "Events", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+p", "command_palette", "Palette", show=False, priority=True),
        Binding("colon", "command_palette", "Palette", show=False),  # not priority: inputs take ":"
        Binding("p", "toggle_pause", "Pause"),
        Binding("q", "quit", "Quit"),
    ]

    paused: reactive[bool] = reactive(False)
    status: reactive[views.ConsoleStatus | None] = reactive(None)
    # When `status` was last read: set at every read, changed or not, so the ages on screen
    # move on while the stored timestamps stand still (a stopped worker).
    status_read_at: reactive[datetime | None] = reactive(None, always_update=True)
    slow_note: reactive[str] = reactive("")
    undelivered: reactive[int] = reactive(0)  # alerts of the last week that went to no one
    # Running workers whose last config reload failed (they run their previous config).
    reload_failures: reactive[tuple[ReloadFailure, ...]] = reactive(())
    ready: reactive[bool] = reactive(False)

    def __init__(self, options: ConsoleOptions) -> None:
        super().__init__()
        self.options = options
        self.db: peewee.Database | None = None
        self._settings: Settings | None = None
        self._settings_lock = threading.Lock()

    def settings(self) -> Settings:
        """The config's part: read on the first call when `options.read_config` is given.

        `mrt-tui --db` defers reading and validating the config (pydantic, every source
        plugin: ~0.4 s) to here, off the start-up path: only replay, rules and a cursor reset
        need it. Any thread may call this; the config is read once.
        """
        with self._settings_lock:
            if self._settings is None:
                options = self.options
                if options.read_config is not None:
                    self._settings = options.read_config()
                else:
                    self._settings = Settings(
                        options.config, options.config_error, options.backup_dir
                    )
            return self._settings

    @work(thread=True, exclusive=True, group="settings")
    def preload_settings(self) -> None:
        """Read the config now, on a worker thread, for a screen that will need it on the UI
        thread (the sources screen's cursor reset)."""
        self.settings()

    # ----------------------------------------------------------------------------- database

    @property
    def read_only(self) -> bool:
        return self.options.read_only

    def now(self) -> datetime:
        return self.options.clock()

    def on_mount(self) -> None:
        self.check_database()

    @work(thread=True, exclusive=True, group="database-check")
    def check_database(self) -> None:
        """Open the database if it is there; never create one (that is the worker's job)."""
        target = self.options.db_target
        if not target:
            self.post_message(DatabaseChecked("missing", "no database configured"))
            return
        is_url = "://" in target
        shown = safe_target(target)  # a PostgreSQL URL's password never reaches the screen
        if not is_url and not Path(target).expanduser().is_file():
            self.post_message(DatabaseChecked("missing", shown))
            return
        if not is_url:  # look before opening: the console never changes a file it only shows
            path = Path(target).expanduser()
            why = not_a_database(path)
            if why is not None:
                self.post_message(DatabaseChecked("not_mrt", f"{shown}: {why}"))
                return
            try:
                probed = sqlite_schema_version(path, self.options.busy_timeout_ms / 1000)
            except Exception as exc:  # a damaged file: said, never a traceback
                self.post_message(DatabaseChecked("error", f"{shown}: {exc}"))
                return
            if probed == 0:
                empty = path.stat().st_size == 0
                self.post_message(DatabaseChecked("unmigrated", shown + " (an empty file)" * empty))
                return
        try:
            db = open_database(
                target,
                read_only=self.options.read_only,
                busy_timeout_ms=self.options.busy_timeout_ms,
            )
            with db.connection_context():
                version = schema_version(db)
        except Exception as exc:  # any failure to open is shown, never a traceback
            error = str(exc).replace(target, shown)
            self.post_message(DatabaseChecked("error", f"{shown}: {error}"))
            return
        self.db = db
        if version == 0:
            self.post_message(DatabaseChecked("unmigrated", shown))
        elif version < LATEST:
            self.post_message(DatabaseChecked("outdated", f"{shown} (schema {version} < {LATEST})"))
        elif version > LATEST:
            self.post_message(DatabaseChecked("newer", f"{shown} (schema {version} > {LATEST})"))
        else:
            self.post_message(DatabaseChecked("ready", shown))

    def on_database_checked(self, message: DatabaseChecked) -> None:
        if message.state == "ready":
            self.ready = True
            if isinstance(self.screen, NoDatabaseScreen):
                self.pop_screen()
            self.switch_mode(self.options.initial_mode)
            self.load_status()
        elif not isinstance(self.screen, NoDatabaseScreen):
            self.push_screen(NoDatabaseScreen(message.state, message.detail, self.options))
        else:
            self.screen.show_state(message.state, message.detail)

    def run_query(self, label: str, query: Callable[[], T]) -> T | None:
        """Run `query` on this worker thread's own connection; time it; never raise.

        Called from thread workers only. A failure (locked, missing table, read-only) becomes
        a banner on screen and None here, so the console keeps working.
        """
        assert self.db is not None
        started = time.perf_counter()
        try:
            with self.db.connection_context():
                result = query()
        except peewee.PeeweeException as exc:
            self.post_message(QueryTimed(label, time.perf_counter() - started, str(exc)))
            return None
        self.post_message(QueryTimed(label, time.perf_counter() - started))
        return result

    def on_query_timed(self, message: QueryTimed) -> None:
        if message.error:
            self.slow_note = f"{message.label} failed: {message.error}"
        elif message.seconds >= self.options.slow_seconds:
            self.slow_note = f"the database is slow: {message.label} took {message.seconds:.1f} s"
        elif self.slow_note.startswith(message.label) or (
            self.slow_note and "slow" in self.slow_note
        ):
            self.slow_note = ""

    # ----------------------------------------------------------------------------- status

    @work(thread=True, exclusive=True, group="status")
    def load_status(self) -> None:
        status = self.run_query("status", views.console_status)
        if get_current_worker().is_cancelled:
            return
        if status is not None:
            self.count_undelivered()
            self.read_reload_failures()
            self.post_message(StatusLoaded(status))
        else:  # a failed read (the banner says why) still re-arms: the header keeps trying
            self.call_from_thread(self.set_timer, self.options.status_seconds, self.load_status)

    def count_undelivered(self) -> None:
        """On the status worker's thread: alerts of the last week with no delivery at all."""
        since = self.now() - UNDELIVERED_WINDOW
        found = self.run_query(
            "undelivered", lambda: views.undelivered_alerts(since=since, limit=0)
        )
        if found is not None:
            self.call_from_thread(setattr, self, "undelivered", found[0])

    def read_reload_failures(self) -> None:
        """On the status worker's thread: running workers whose last config reload failed."""
        now = self.now()
        found = self.run_query("reload status", lambda: workers.reload_failures(now))
        if found is not None:
            self.call_from_thread(setattr, self, "reload_failures", tuple(found))

    def on_status_loaded(self, message: StatusLoaded) -> None:
        self.status = message.status
        self.status_read_at = self.now()  # after `status`: its watchers render both at once
        # Re-armed after the answer: status polls never overlap.
        self.set_timer(self.options.status_seconds, self.load_status)

    def status_now(self) -> datetime:
        """The "now" every age of the status is taken against: the time it was read."""
        return self.status_read_at or self.now()

    def heartbeat_age(self) -> str:
        """The worker's heartbeat age: the header and the banner both show this one text."""
        return age(self.status.heartbeat_at if self.status else None, self.status_now())

    def worker_down(self) -> bool:
        """No worker keeps this database moving. A `--once` run (cron) that ended is not down:
        it ran and will run again; the header says when it last did."""
        status = self.status
        if status is None:
            return False
        if status.heartbeat_at is None:
            return True
        if status.worker_mode == "once":
            return False
        if status.worker_stopped:
            return True
        return self.status_now() - status.heartbeat_at > WORKER_DOWN_AFTER

    # ----------------------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("switch_mode", "toggle_pause"):
            return self.ready
        return True

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.notify("Live updates paused" if self.paused else "Live updates resumed")

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return

        # The screen's own actions first, then the app's, then the focused widget's movement keys.
        own = {b.action for b in type(self.screen).BINDINGS if isinstance(b, Binding)}

        def rank(active: ActiveBinding) -> int:
            if active.node is self.screen and active.binding.action in own:
                return 0
            return 1 if active.node is self else 2

        active = sorted(self.screen.active_bindings.values(), key=rank)
        rows = [
            (
                b.binding.key_display or self.get_key_display(b.binding),
                b.binding.description,
                b.enabled,
            )
            for b in active
            if b.binding.description
        ]
        self.push_screen(HelpScreen(rows))


def make_app(
    db_target: str | Path | None,
    *,
    read_only: bool = False,
    config_path: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    poll_seconds: float = 2.0,
    status_seconds: float = 5.0,
    page_size: int = 100,
    slow_seconds: float = 1.0,
    backup_dir: Path | None = None,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    initial_mode: str = "alerts",
    config: Config | None = None,
    config_error: str | None = None,
    read_config: Callable[[], Settings] | None = None,
) -> MrtConsole:
    """The console for `db_target`; `main()` and the tests build it the same way."""
    return MrtConsole(
        ConsoleOptions(
            db_target=str(db_target) if db_target is not None else None,
            read_only=read_only,
            config_path=config_path,
            clock=clock,
            poll_seconds=poll_seconds,
            status_seconds=status_seconds,
            page_size=page_size,
            slow_seconds=slow_seconds,
            backup_dir=backup_dir,
            busy_timeout_ms=busy_timeout_ms,
            initial_mode=initial_mode,
            config=config,
            config_error=config_error,
            read_config=read_config,
        )
    )
