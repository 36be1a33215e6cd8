"""The VIP private sale broadcast, end to end: a real one-off Temporal Schedule fires a few
seconds ahead, the worker's audience scan picks exactly the gold and platinum members who
opted in and did not decline, and each is invited once, at 09:00 on the sale day in their
own zone, by email or by SMS without email.

The shipped file's moment is in 2027; here the same scenario is scheduled at a moment just
ahead (the scan reads the worker's own copy of the audience, as in production).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.service import RPCError, RPCStatusCode

from journeys.app.driver import JourneyDriver, eventually
from journeys.authoring.registry import ScenarioRegistry
from journeys.loyalty.program import LoyaltyProgram
from journeys.model.events import Event
from journeys.model.scan_contracts import ScanProgress
from journeys.process.settings import Settings
from journeys.temporal.schedules import audience_prefix, scenario_schedule, upsert_schedule
from tests.broadcasts import at_moment, fired_once, seconds_ahead

SALE = "vip-private-sale"
SPEND = {"silver": 500, "gold": 1500, "platinum": 5000}  # loyalty.yaml's tiers


def member(journeys: JourneyDriver, program: LoyaltyProgram, tier: str, **profile: object) -> str:
    customer = journeys.customer("sale", **profile)
    now = datetime.now(UTC)
    journeys.store.loyalty.record_purchase(
        customer, SPEND[tier], source_ref=f"{customer}/buy", occurred_at=now - timedelta(days=1)
    )
    journeys.store.loyalty.evaluate_tier(customer, now, program.tiers)
    return customer


async def exists(journeys: JourneyDriver, customer: str) -> bool:
    try:
        await journeys.handle(SALE, customer).describe()
    except RPCError as err:
        assert err.status == RPCStatusCode.NOT_FOUND, err
        return False
    return True


async def test_the_broadcast_reaches_the_matching_vips_once_at_nine_their_time(
    journeys: JourneyDriver, registry: ScenarioRegistry, settings: Settings
) -> None:
    program = LoyaltyProgram.load(settings.loyalty_file)
    paris, tokyo = "Europe/Paris", "Asia/Tokyo"
    gold = member(journeys, program, "gold", time_zone=paris, locale="fr", vip_optin=True)
    platinum_sms = member(
        journeys,
        program,
        "platinum",
        time_zone=tokyo,
        vip_optin="true",  # as a CSV import stores it
        phone="+81312345678",
        consent={"email": False, "sms": True},
    )
    declined = member(journeys, program, "gold", time_zone=paris, vip_optin=True)
    journeys.store.events.record(
        Event(id=f"{declined}/no", name="vip.declined", customer_id=declined)
    )
    not_opted_in = member(journeys, program, "platinum", time_zone=paris, vip_optin=False)
    silver = member(journeys, program, "silver", time_zone=paris, vip_optin=True)

    moment = seconds_ahead(3)
    schedule_id = f"{audience_prefix(settings.task_queue)}{SALE}-test-{uuid.uuid4().hex[:6]}"
    broadcast = scenario_schedule(at_moment(registry.get(SALE), moment), settings.task_queue)
    client = journeys.router.client
    await upsert_schedule(client, schedule_id, broadcast)
    try:
        described = await fired_once(client, schedule_id)
        [run] = described.info.recent_actions
        scan = client.get_workflow_handle(run.action.workflow_id, result_type=ScanProgress)
        progress = await eventually(scan.result, timeout=60)
        assert progress.done and progress.at == moment
    finally:
        await client.get_schedule_handle(schedule_id).delete()

    for customer in (declined, not_opted_in, silver):
        assert not await exists(journeys, customer), customer
    sale_day = datetime.fromisoformat(registry.get(SALE).vars["sale_date"]).date()
    for customer, zone, channel in ((gold, paris, "email"), (platinum_sms, tokyo, "sms")):
        state = await journeys.finish(SALE, customer)
        assert state.status == "completed"
        [invitation] = journeys.store.outbox.for_customer(customer)
        assert invitation.channel == channel
        assert invitation.journey_time is not None
        morning = datetime.combine(sale_day, datetime.min.time().replace(hour=9), ZoneInfo(zone))
        if moment < morning:  # the shipped sale is still ahead: sent at 09:00 that day
            sent = invitation.journey_time.astimezone(ZoneInfo(zone))
            assert sent.replace(second=0, microsecond=0) == morning
        else:  # run after the sale day: sent at once, never skipped
            assert invitation.journey_time >= moment
    [french] = journeys.store.outbox.for_customer(gold)
    assert "vente privée" in french.subject

    # The same broadcast scanned again (a retried scan, a re-sync): nobody enters twice.
    await journeys.scan(SALE, moment)
    for customer in (gold, platinum_sms):
        state = await journeys.finish(SALE, customer)
        assert state.entries == 1
        assert len(journeys.store.outbox.for_customer(customer)) == 1
