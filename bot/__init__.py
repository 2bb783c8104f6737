"""Improv Panic Button: a Discord bot that answers a GM's panic with improvisation grounded in their notes."""
