"""Tests of the Discord door (bot/discord/)."""
