"""`mrt check`: is this config ready to run? One line per check; exit 0 only when it is.

Exit codes: 0 ready (warnings allowed: a v0 value MRT runs its own way is a warning), 2 the config or its environment is wrong (a bad file, a
missing required variable, a channel that cannot be parsed or has no plugin), 1 the database is
not usable.
"""

from __future__ import annotations

import argparse
import os

from mrt.commands._probe import Finding, exit_code, probe_all
from mrt.commands._reload import reload_findings
from mrt.config import config_search_paths, find_config_file, load_config_with_warnings
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
    findings += reload_findings(config, env, utcnow())  # a running worker's failed reload
    for finding in findings:
        print(finding.line())
    errors = sum(f.status == "error" for f in findings)
    warnings = sum(f.status == "warn" for f in findings)
    code = exit_code(findings)
    verdict = "ready" if code == 0 else "not ready"
    print(f"check: {verdict}: {errors} error(s), {warnings} warning(s)")
    return code
