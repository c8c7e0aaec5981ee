"""The one Jinja2 sandbox for message templates, and the load-time check of a template.

    sandbox() -> ImmutableSandboxedEnvironment      what the renderer runs every template in
    read_template(spec, config_file) -> (source, name)   inline source, or `file:path`
    template_problem(source) -> str | None          why it cannot work, checked without running it

Kept below both the rules (which check a rule's `notify.template` when they compile, so a bad
one is a config error at load) and the renderer (which runs it), so the two agree on what a
template is.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING

# Jinja2 (~50 ms at import) is imported by the first template checked or rendered: the rules
# import this module, and a config without templates never needs it before its first alert.
if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

# The names a message template may use (mrt.delivery.render.build_context provides each one).
CONTEXT_NAMES = frozenset(
    {
        "channel",
        "events",
        "event",
        "shown",
        "more",
        "count",
        "where",
        "rules",
        "why",
        "priority",
        "tags",
    }
)


def sandbox() -> ImmutableSandboxedEnvironment:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def template_path(spec: str, config_file: str | Path | None) -> Path | None:
    """The file a `file:relative/path` spec names (relative to the config file), else None."""
    if not spec.startswith("file:"):
        return None
    base = Path(config_file).parent if config_file else Path.cwd()
    return (base / spec[5:].strip()).resolve()


def read_template(spec: str, config_file: str | Path | None) -> tuple[str, str | None]:
    """(source, the file it came from or None when inline); OSError/UnicodeDecodeError pass."""
    path = template_path(spec, config_file)
    if path is None:
        return spec, None
    return path.read_text("utf-8"), str(path)


def template_problem(source: str) -> str | None:
    """What is wrong with a template, found without running it: syntax, an unknown filter or
    test, a name the renderer does not provide. None when it compiles and every name exists."""
    if not source.strip():
        return "the template is empty"
    import jinja2
    from jinja2 import meta

    env = sandbox()
    try:
        tree = env.parse(source)
        env.compile(tree)  # unknown filters and tests are found here
    except jinja2.TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    known = CONTEXT_NAMES | set(env.globals)
    for name in sorted(meta.find_undeclared_variables(tree) - known):
        close = difflib.get_close_matches(name, sorted(CONTEXT_NAMES), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        names = ", ".join(sorted(CONTEXT_NAMES))
        return f"unknown name {name!r}{hint}; a template can use {names}"
    return None
