"""The delivery ledger's hot statements, built once and bound per call.

The deliver activity runs four to six of these per message. Building a Core statement
(``select(...).where(col == value)``) costs more than SQLite takes to run it (~0.06 vs
~0.03 ms); SQLAlchemy's compiled cache then keys on the structure, so a statement built
once with ``bindparam`` placeholders is compiled once and only bound afterwards. Bind
names differ from column names: SQLAlchemy reserves those in ``INSERT``/``UPDATE``.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, case, func, insert, select, update

from journeys.store.tables import RESERVED, SENT, Customer, Delivery, UTCDateTime

LEDGER = cast(Table, Delivery.__table__)
CUSTOMERS = cast(Table, Customer.__table__)
_THIS_ROW = (
    LEDGER.c.delivery_key == bindparam("key"),
    LEDGER.c.channel == bindparam("channel_"),
)

ROWS_FOR_KEY = select(LEDGER).where(LEDGER.c.delivery_key == bindparam("key")).order_by(LEDGER.c.id)
ROW = select(LEDGER).where(*_THIS_ROW)
ROW_ID = select(LEDGER.c.id).where(*_THIS_ROW)
CUSTOMER = select(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("customer"))
INSERT = insert(LEDGER).returning(LEDGER.c.id)
INSERTED = tuple(column.name for column in LEDGER.columns if column.name != "id")

# Moves a row on, never a sent one. A reserved row keeps its recipient (the message may be
# out there already); the provider message id and the cap's purpose and journey time are
# only overwritten by values that are given (None keeps what is stored).
_journey_time = bindparam("journey_time_", type_=UTCDateTime)
MOVE_ON = (
    update(LEDGER)
    .where(*_THIS_ROW, LEDGER.c.status != SENT)
    .values(
        status=bindparam("status_"),
        reason=bindparam("reason_"),
        updated_at=bindparam("now", type_=UTCDateTime),
        recipient=case(
            (LEDGER.c.status == RESERVED, LEDGER.c.recipient), else_=bindparam("recipient_")
        ),
        provider_message_id=func.coalesce(bindparam("message_id"), LEDGER.c.provider_message_id),
        purpose=case((_journey_time.is_(None), LEDGER.c.purpose), else_=bindparam("purpose_")),
        journey_time=func.coalesce(_journey_time, LEDGER.c.journey_time),
    )
    .returning(LEDGER)
)

# The frequency cap: taking the customer's row first serialises reservations per customer
# (row lock on PostgreSQL, write lock on SQLite) before they count.
LOCK_CUSTOMER = (
    update(CUSTOMERS)
    .where(CUSTOMERS.c.id == bindparam("customer"))
    .values(updated_at=CUSTOMERS.c.updated_at)
)
COUNT_CAPPED = (
    select(func.count())
    .select_from(LEDGER)
    .where(
        LEDGER.c.customer_id == bindparam("customer"),
        LEDGER.c.purpose == "marketing",
        LEDGER.c.status.in_((RESERVED, SENT)),
        LEDGER.c.journey_time > bindparam("since", type_=UTCDateTime),
        LEDGER.c.delivery_key != bindparam("key"),
    )
)
