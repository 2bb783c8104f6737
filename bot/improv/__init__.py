"""Improvisation: kinds, prompts, generation with GPT-4o-mini, offline tables, the instant pool (no discord)."""
