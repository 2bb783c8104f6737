"""`python -m bot.web`: the Procfile's web process."""

from __future__ import annotations

import sys

from bot.web.app import main

sys.exit(main())
