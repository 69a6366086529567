"""Watch backends: Watchman (preferred) and the built-in watcher (inotify on Linux, watchfiles elsewhere)."""
