"""The Discord door: the bot client, who-may checks, embed rendering, persistent components, offline Discord.

Everything that imports discord.py lives here or in cogs/; `import discord` inside this package still means
the library (imports are absolute).
"""
