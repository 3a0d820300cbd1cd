"""Hand-off ratings roll up per period through the cycles' close and suppression, and show
beside the cycles' figures on the department page and through the API alike."""

import datetime as dt

from django.test import Client
from django.utils import timezone

from reviews import services
from reviews.models import Cycle, CycleKind, CycleStatus, Handoff, ReviewRequest, Rollup


def _rated_period(api_client, line, raters, score):
    for person in raters:
        api_client.post(
            "/handoffs/",
            {
                "workflow": "ORDER",
                "provider_department": "OPS",
                "receiver": person.employee_id,
            },
            key=f"h-{person.employee_id}",
        )
    services.process_handoffs()
    for handoff in Handoff.objects.exclude(request=None):
        request = ReviewRequest.objects.get(pk=handoff.request_id)
        criteria = services.applicable_criteria(request.cycle, request.edge_type)
        services.submit_answer(request, scores={c.pk: score for c in criteria})
    cycle = Cycle.objects.handoff_periods().get()
    services.sweep(now=cycle.deadline + dt.timedelta(minutes=1))
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.CLOSED
    return cycle


def _page(line):
    client = Client()
    client.force_login(line["ceo"].user)  # heads the whole company
    return client.get(f"/results/departments/{line['ops'].pk}/")


def test_a_period_of_handoff_ratings_shows_on_the_page_and_in_the_api(api_client, line):
    cycle = _rated_period(api_client, line, line["receivers"], 4)
    assert Rollup.objects.filter(cycle=cycle, department=line["ops"], kind="").exists()
    page = _page(line)
    figure = page.context["handoffs"]["overall"]
    assert not figure.suppressed and figure.mean == 4.0 and figure.raters == 4
    assert 'id="handoffs"' in page.content.decode()
    assert page.context["handoffs"]["trend"]["series"][0]["data"] == [4.0]
    # The cycle picker lists survey cycles only.
    assert cycle not in list(page.context["cycles"])

    shown = api_client.get(f"/results/departments/{line['ops'].pk}").json()["handoffs"]
    assert shown["overall"]["shown"] is True
    assert shown["overall"]["mean"] == figure.mean
    assert shown["overall"]["raters"] == figure.raters
    assert shown["period"]["kind"] == CycleKind.HANDOFFS


def test_a_period_with_too_few_raters_is_hidden_on_the_page_and_in_the_api(api_client, line):
    _rated_period(api_client, line, line["receivers"][:2], 1)
    figure = _page(line).context["handoffs"]["overall"]
    assert figure.suppressed and figure.mean is None
    shown = api_client.get(f"/results/departments/{line['ops'].pk}").json()["handoffs"]
    assert shown["overall"] == {
        "label": shown["overall"]["label"],
        "key": "all",
        "shown": False,
        "reason": "few",
    }


def test_a_head_token_sees_only_its_departments(client, line):
    from api.models import Scope

    from .conftest import Api, make_token

    _token, secret = make_token(Scope.READ_RESULTS, employee=line["sales_head"])
    api = Api(client, secret)
    assert api.get(f"/results/departments/{line['sales'].pk}").status_code == 200
    assert api.get(f"/results/departments/{line['ops'].pk}").status_code == 404


def test_cycles_open_and_close_through_the_api(api_client, line):
    cycle = services.create_cycle(name="Q4", deadline=timezone.now() + dt.timedelta(days=7))
    opened = api_client.post(f"/cycles/{cycle.pk}/open", key="open-1")
    assert opened.status_code == 200, opened.content
    assert opened.json()["cycle"]["status"] == "open"
    closed = api_client.post(f"/cycles/{cycle.pk}/close", key="close-1")
    assert closed.json()["cycle"]["status"] == "closed"
    # Opening a closed cycle is refused, as a problem, and the refusal is kept for the key.
    refused = api_client.post(f"/cycles/{cycle.pk}/open", key="open-2")
    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/problem+json"
    assert api_client.post(f"/cycles/{cycle.pk}/open", key="open-2").status_code == 409
    assert api_client.post(f"/cycles/{cycle.pk}/open").status_code == 400  # no key


def test_an_employee_token_sees_only_its_own_figures(client, line):
    from api.models import Scope

    from .conftest import Api, make_token

    cycle = services.create_cycle(name="Q4", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)
    services.close_cycle(cycle)
    _token, secret = make_token(Scope.READ_RESULTS, employee=line["seller"])
    api = Api(client, secret)
    own = api.get(f"/results/employees/{line['seller'].pk}")
    assert own.status_code == 200
    assert own.json()["overall"]["shown"] is False  # nobody rated them: nothing to show
    assert api.get(f"/results/employees/{line['sales_head'].pk}").status_code == 404
