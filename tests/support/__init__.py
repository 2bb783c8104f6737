"""Test support: the Discord harness (see bot.discord.offline) wrapped as pytest fixtures."""
