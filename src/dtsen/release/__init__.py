"""Releases: build directory, manifest, atomic publish, history and diff (issue 5)."""
