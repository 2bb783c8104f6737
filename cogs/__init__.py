"""Discord cogs: thin glue between slash commands and the domain."""
