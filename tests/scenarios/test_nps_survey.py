"""The NPS survey, end to end: a real Temporal server and worker run ``nps-survey``, the
survey email carries eleven signed links, the customer answers on the API served over real
HTTP (its relay routes ``nps.answered`` to the waiting journey), and the follow-up depends
on the score."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from journeys.app.driver import JourneyDriver, eventually
from journeys.model.surveys import answer_event_id
from journeys.store import Store
from tests.api_server import FORM, UNSUBSCRIBE
from tests.survey_links import answers, html_links, text_links

NPS = "nps-survey"


async def asked(journeys: JourneyDriver, customer: str) -> list[str]:
    """Delivers an order, lets three days pass, and returns the survey email's links by
    score (0 to 10), once the journey waits for the answer."""
    await journeys.send(customer, "order.delivered", order_id="A-1042")
    await journeys.idle(NPS, customer)
    await journeys.advance(NPS, customer, "3d")

    async def survey_sent() -> None:
        assert journeys.sent(customer) == [("survey", "email")]

    await eventually(survey_sent)
    state = await journeys.idle(NPS, customer)
    assert state.current_step == "answer"
    [message] = journeys.store.outbox.for_customer(customer)
    return by_score(message.html or "", message.text)


def by_score(html: str, text: str) -> list[str]:
    links = html_links(html)
    assert len(links) == 11 and text_links(text) == links
    read = answers(links, UNSUBSCRIBE)
    assert [a.score for a in read] == list(range(11))
    assert {(a.survey, a.customer_id) for a in read} == {(NPS, read[0].customer_id)}
    return links


def path(link: str) -> str:
    assert link.startswith("https://journeys.example.com/s/")  # JOURNEYS_PUBLIC_URL
    return urlsplit(link).path


def answered(store: Store, customer: str) -> list[int]:
    return [
        e.properties["score"]
        for e in store.events.for_customer(customer)
        if e.name == "nps.answered"
    ]


async def test_a_promoter_is_thanked_and_asked_for_a_review(
    journeys: JourneyDriver, api: httpx.AsyncClient, store: Store
) -> None:
    customer = journeys.customer(first_name="Ana")
    links = await asked(journeys, customer)

    for link in links:  # a mail scanner opens every link: nothing is answered
        page = await api.get(path(link))
        assert page.status_code == 200 and "<form" in page.text
    state = await journeys.idle(NPS, customer)
    assert state.current_step == "answer" and answered(store, customer) == []

    response = await api.post(path(links[10]), content=b"comment=Lovely", headers=FORM)
    assert response.status_code == 200 and "10 out of 10, is recorded" in response.text

    async def thanked() -> None:
        assert journeys.sent(customer) == [("survey", "email"), ("promoter-thanks", "email")]

    await eventually(thanked)
    late = await api.post(path(links[0]))  # the first answer counts
    assert "We already have your answer" in late.text
    state = await journeys.finish(NPS, customer)
    assert state.status == "completed"
    assert state.goal_reached_at is not None
    assert answered(store, customer) == [10]
    promoter = store.outbox.for_customer(customer)[1]
    assert promoter.subject == "Thank you for the 10!"
    assert "https://shop.example/reviews/new" in promoter.text


async def test_a_detractor_gets_an_apology_and_is_flagged_for_customer_care(
    journeys: JourneyDriver, api: httpx.AsyncClient, store: Store
) -> None:
    customer = journeys.customer(first_name="Chloé", locale="fr")
    links = await asked(journeys, customer)
    survey = store.outbox.for_customer(customer)[0]
    assert survey.locale == "fr" and survey.subject == "Votre avis sur la commande A-1042"

    # An answer to another survey is not this journey's answer
    await journeys.send(customer, "nps.answered", score=10, survey="another-survey")
    # ... nor is an answer from an earlier order's survey (its link is valid for 90 days)
    await journeys.send(customer, "nps.answered", score=10, survey=NPS, entry="an-earlier-order")
    page = await api.get(path(links[3]))
    assert "Vous avez choisi <strong>3</strong> sur 10." in page.text
    response = await api.post(
        path(links[3]), content=b"comment=Colis+ab%C3%AEm%C3%A9", headers=FORM
    )
    assert response.status_code == 200

    async def apologised() -> None:
        assert journeys.sent(customer) == [("survey", "email"), ("detractor-apology", "email")]

    await eventually(apologised)
    state = await journeys.finish(NPS, customer)
    assert state.status == "completed"
    profile = store.customers.get(customer)
    assert profile is not None and profile["needs_care"] is True
    apology = store.outbox.for_customer(customer)[1]
    assert apology.locale == "fr" and "service client" in apology.subject
    [answer] = [e for e in store.events.for_customer(customer) if "comment" in e.properties]
    assert answer.properties["comment"] == "Colis abîmé"


async def test_a_passive_is_thanked(journeys: JourneyDriver, api: httpx.AsyncClient) -> None:
    customer = journeys.customer()
    links = await asked(journeys, customer)
    assert (await api.post(path(links[7]))).status_code == 200

    async def thanked() -> None:
        assert journeys.sent(customer) == [("survey", "email"), ("passive-thanks", "email")]

    await eventually(thanked)
    state = await journeys.finish(NPS, customer)
    assert state.status == "completed"
    profile = journeys.store.customers.get(customer)
    assert profile is not None and "needs_care" not in profile


async def test_no_answer_gets_one_reminder_whose_links_answer_the_same_invitation(
    journeys: JourneyDriver, api: httpx.AsyncClient, store: Store
) -> None:
    customer = journeys.customer()
    first = await asked(journeys, customer)
    await journeys.advance(NPS, customer, "7d")

    async def reminded() -> None:
        assert journeys.sent(customer) == [("survey", "email"), ("survey-reminder", "email")]

    await eventually(reminded)
    await journeys.idle(NPS, customer)
    reminder = store.outbox.for_customer(customer)[1]
    again = by_score(reminder.html or "", reminder.text)
    ids = {
        answer_event_id(a.survey, a.entry, a.customer_id)
        for a in answers(first + again, UNSUBSCRIBE)
    }
    assert len(ids) == 1  # one invitation: whichever link is used first counts

    assert (await api.post(path(again[9]))).status_code == 200

    async def thanked() -> None:
        assert [step for step, _ in journeys.sent(customer)][-1] == "promoter-thanks"

    await eventually(thanked)
    await journeys.finish(NPS, customer)


async def test_no_answer_after_the_reminder_ends_the_journey(journeys: JourneyDriver) -> None:
    customer = journeys.customer()
    await asked(journeys, customer)
    await journeys.advance(NPS, customer, "7d")

    async def reminded() -> None:
        assert journeys.sent(customer) == [("survey", "email"), ("survey-reminder", "email")]

    await eventually(reminded)
    state = await journeys.finish(NPS, customer)
    assert (state.status, state.exit_reason) == ("exited", "no answer")
    assert journeys.sent(customer) == [("survey", "email"), ("survey-reminder", "email")]
