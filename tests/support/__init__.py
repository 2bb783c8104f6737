"""Test support: the Discord harness (see bot.offline) wrapped as pytest fixtures."""
