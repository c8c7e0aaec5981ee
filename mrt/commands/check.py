"""`mrt check`: is this config ready to run? One line per check; exit 0 only when it is.

Exit codes: 0 ready (warnings allowed: a v0 value MRT runs its own way is a warning), 2 the config or its environment is wrong (a bad file, a
missing required variable, a channel that cannot be parsed or has no plugin), 1 the database is
not usable. With --send-test, a ready check then sends a test message to every channel
(`mrt notify test --all`): 1 when a channel refused it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from mrt.commands._output import add_json_option, emit, report_error, wants_json
from mrt.commands._probe import Finding, exit_code, probe_all
from mrt.commands._reload import reload_findings
from mrt.config import (
    Config,
    config_search_paths,
    database_display,
    find_config_file,
    load_config_with_warnings,
)
from mrt.events import utcnow


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser(
        "check",
        parents=[common],
        help="validate the config, the database, the secrets and the channels",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_json_option(parser)
    parser.add_argument(
        "--send-test", action="store_true",
        help="when ready, send a test message to every channel (as `mrt notify test --all`)",
    )
    parser.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    found = find_config_file(args.config, env=env)
    # InvalidConfig -> exit 2 through the CLI; warnings are values MRT runs its own way
    loaded = load_config_with_warnings(args.config, env=env)
    config = loaded.config
    if found is None:
        looked = ", ".join(str(p) for p in config_search_paths(env))
        origin = Finding("ok", "config", f"built-in default (no file found; looked for {looked})")
    else:
        origin = Finding("ok", "config", f"{found.expanduser().absolute()} is valid")
    read_as = [Finding("warn", w.path, w.text()) for w in loaded.warnings]
    findings = [origin, *read_as, *probe_all(config, env)]
    at = next((i + 1 for i, f in enumerate(findings) if f.what == "database"), len(findings))
    findings.insert(at, backup_finding(config, env))
    findings += reload_findings(config, env, utcnow())  # a running worker's failed reload
    errors = sum(f.status == "error" for f in findings)
    warnings = sum(f.status == "warn" for f in findings)
    code = exit_code(findings)
    verdict = "ready" if code == 0 else "not ready"
    if wants_json(args) and getattr(args, "send_test", False):
        # one JSON document per command: the test's answers are `mrt notify test --all --json`
        return report_error(
            args, "mrt check: --send-test does not combine with --json; "
            "run `mrt notify test --all --json` after `mrt check --json`",
        )
    if wants_json(args):
        emit({"ready": code == 0, "errors": errors, "warnings": warnings,
              "findings": [{"status": f.status, "what": f.what, "text": f.text} for f in findings]})
        return code
    for finding in findings:
        print(finding.line())
    print(f"check: {verdict}: {errors} error(s), {warnings} warning(s)")
    if code == 0 and getattr(args, "send_test", False):
        from mrt.commands.notify import run_tests

        return run_tests(config, args, None, as_json=False)
    return code


def backup_finding(config: Config, env: Mapping[str, str]) -> Finding:
    """Whether a backup precedes a migration, as this backend really does it."""
    from mrt.store.backup import before_migration, configured_backup_dir

    postgres = bool(config.state.url)
    where = configured_backup_dir(config.state.backup_dir) or Path(
        database_display(config)
    ).expanduser().parent
    fine, text = before_migration(postgres=postgres, backup_dir=where, env=env)
    return Finding("ok" if fine else "warn", "backup", text, False)
