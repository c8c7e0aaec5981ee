"""mrt-worker: the headless process that polls, matches, stores and delivers."""
