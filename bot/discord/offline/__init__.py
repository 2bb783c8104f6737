"""Offline Discord: a fake Discord and a driver that runs the real bot against it (tests and console)."""
