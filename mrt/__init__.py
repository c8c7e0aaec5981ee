"""Model Release Tracker: watch upstream, alert a team once, never lose the news."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("model-release-tracker")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
