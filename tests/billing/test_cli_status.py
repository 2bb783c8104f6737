"""`improv billing status --guild ID` as an operator runs it (a real process on the embedded database),
after a downgrade that keeps the paid plan until the period ends."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.billing.plans import Plan, PlanCatalog
from bot.billing.simulate import signed, subscription_event
from bot.services import open_services
from bot.settings import Settings
from db.base import utcnow
from db.migrate import upgrade
from db.models.billing import BillingCheckout

IMPROV = Path(sys.executable).with_name("improv")
SECRET = "pdl_ntfset_01improvtest_cli"
BASIC, PRO = "pri_01clibasic", "pri_01clipro"
PLANS = PlanCatalog(paid={BASIC: Plan(name="Basic", monthly_panics=10), PRO: Plan(name="Pro", monthly_panics=100)})
GUILD = 10**17 + 42


def improv(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PADDLE_", "DATABASE_URL", "REDIS_URL"))}
    env |= {"PADDLE_WEBHOOK_SECRET": SECRET, "PADDLE_PLANS": PLANS.model_dump_json()}
    command = [str(IMPROV), "--data-dir", str(data_dir), "billing", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


async def test_status_shows_the_kept_plan_and_the_coming_one(tmp_path: Path) -> None:
    data = tmp_path / "d"
    settings = Settings.embedded(data, paddle_webhook_secret=[SECRET], paddle_plans=PLANS.model_dump())
    now = utcnow()
    period = (now - timedelta(days=3), now + timedelta(days=27))
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with services.sessionmaker.begin() as session:
            session.add(BillingCheckout(transaction_id="txn_01cli", guild_id=GUILD, price_id=PRO))
        for minutes, (kind, price) in enumerate([("created", PRO), ("updated", BASIC)]):
            event = subscription_event(
                f"subscription.{kind}",
                subscription_id="sub_01cli",
                status="active",
                occurred_at=now - timedelta(hours=1, minutes=-minutes),
                price_id=price,
                transaction_id="txn_01cli",
                period=period,
            )
            body, header = signed(event, SECRET)
            assert (await services.billing.handle_webhook(body, header)).body["outcome"] == "applied"
        status = (await services.billing.status(GUILD)).as_dict()  # what `--json` prints
    assert (status["plan"], status["plan_key"], status["next_plan"]) == ("Pro", PRO, "Basic")
    assert status["next_plan_at"] == status["period_end"]

    text = improv(data, "status", "--guild", str(GUILD))
    assert text.returncode == 0, text.stderr
    assert f"guild {GUILD}: Pro (active)" in text.stdout
    assert "changes to Basic at " in text.stdout
