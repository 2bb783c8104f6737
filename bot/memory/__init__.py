"""Campaign memory: import GM notes, chunk, embed, store per guild, retrieve with citations (no discord)."""
