"""A cap on requests per person: the requests kept let the most result groups reach the minimum."""

import datetime as dt
import random
from collections import Counter

import pytest
from django.utils import timezone

from relations import services as graph
from relations.models import EdgeType
from reviews import services
from reviews.fair_load import Candidate, choose, groups_reaching
from reviews.models import ReviewRequest
from tests.factories import DepartmentFactory


def random_choice(candidates, *, cap, rng):
    by_rater = {}
    for c in candidates:
        by_rater.setdefault(c.rater, []).append(c)
    kept = set()
    for own in by_rater.values():
        kept |= {c.key for c in rng.sample(own, min(cap, len(own)))}
    return kept


def shown(candidates, kept, minimum, fixed=None):
    counts = Counter(fixed or {})
    counts.update(c.group for c in candidates if c.key in kept)
    return groups_reaching(counts, minimum)


def test_greedy_choice_shows_more_groups_than_a_random_one_at_the_same_cap():
    # 30 raters, 25 groups; each rater is asked about 3 to 9 groups, and may get 3 requests.
    rng = random.Random(7)
    candidates = []
    for rater in range(30):
        for group in rng.sample(range(25), rng.randint(3, 9)):
            candidates.append(Candidate(key=(rater, group), rater=rater, group=(group, "function")))
    kept = choose(candidates, cap=3, minimum=3, fixed={})
    per_rater = Counter(key[0] for key in kept)
    assert max(per_rater.values()) == 3  # the cap holds
    greedy = shown(candidates, kept, 3)
    randoms = [
        shown(candidates, random_choice(candidates, cap=3, rng=random.Random(seed)), 3)
        for seed in range(200)
    ]
    assert greedy > max(randoms)
    assert greedy >= 1.3 * (sum(randoms) / len(randoms))  # 24 against 16.8 on average


def test_greedy_choice_completes_every_group_that_fits_exactly():
    # Six raters, four groups, two requests each: 12 places, 4 groups × 3 raters.
    candidates = [
        Candidate(key=(r, g), rater=r, group=(g, "function")) for r in range(6) for g in range(4)
    ]
    kept = choose(candidates, cap=2, minimum=3, fixed={})
    assert shown(candidates, kept, 3) == 4
    hits = [
        shown(candidates, random_choice(candidates, cap=2, rng=random.Random(s)), 3)
        for s in range(100)
    ]
    assert sum(h == 4 for h in hits) < 50


def test_greedy_choice_counts_what_others_already_give_a_group():
    # Group 0 has 2 requests from people under the cap: one more completes it; group 1 none.
    candidates = [Candidate(key=("a", g), rater=1, group=(g, "function")) for g in range(2)]
    kept = choose(candidates, cap=1, minimum=3, fixed={(0, "function"): 2})
    assert kept == {("a", 0)}


@pytest.fixture
def crowded(db, settings):
    """Four provider departments serve one customer department of six people."""
    settings.ICR_MIN_RATERS = 3
    customer = DepartmentFactory(name="客户部")
    people = [
        graph.hire_employee(employee_id=f"C{i}", name=f"客户{i}", department=customer)
        for i in range(6)
    ]
    providers = [DepartmentFactory(name=f"供方{i}") for i in range(4)]
    for provider in providers:
        graph.create_pair(EdgeType.FUNCTION, provider, customer, service="服务")
    return {"customer": customer, "people": people, "providers": providers}


def test_opening_with_a_cap_keeps_the_requests_that_show_every_group(crowded):
    now = timezone.now()
    cycle = services.create_cycle(
        name="2026 年第 4 季度", deadline=now + dt.timedelta(days=14), request_cap=2
    )
    preview = services.preview_cycle(cycle, now=now)
    assert (preview.requests, preview.raters, preview.load) == (24, 6, [(4, 6)])
    assert (preview.capped_requests, preview.capped_raters) == (12, 6)
    assert preview.capped_load == [(2, 6)]
    assert (preview.groups, preview.groups_shown, preview.capped_groups_shown) == (4, 4, 4)

    summary = services.open_cycle(cycle, now=now)

    assert summary.total == 12
    requests = ReviewRequest.objects.filter(cycle=cycle)
    per_rater = Counter(requests.values_list("rater_id", flat=True))
    assert sorted(per_rater.values()) == [2] * 6
    per_group = Counter(requests.values_list("provider_department_id", flat=True))
    assert sorted(per_group.values()) == [3, 3, 3, 3]


def test_opening_without_a_cap_asks_everyone_everything(crowded):
    cycle = services.create_cycle(
        name="无上限", deadline=timezone.now() + dt.timedelta(days=14), request_cap=None
    )
    preview = services.preview_cycle(cycle)
    assert preview.cap is None and preview.requests == 24
    assert services.open_cycle(cycle).total == 24


def test_a_cycle_takes_the_cap_of_the_setting(crowded, settings):
    settings.ICR_REQUEST_CAP = 3
    cycle = services.create_cycle(name="默认", deadline=timezone.now() + dt.timedelta(days=14))
    assert cycle.request_cap == 3
    assert services.open_cycle(cycle).total == 18


def test_topping_up_an_open_cycle_keeps_the_cap_with_the_requests_already_sent(crowded):
    now = timezone.now()
    cycle = services.create_cycle(name="补充", deadline=now + dt.timedelta(days=14), request_cap=3)
    services.open_cycle(cycle, now=now)  # four services, three requests each person
    graph.create_pair(EdgeType.FUNCTION, DepartmentFactory(name="新供方"), crowded["customer"])
    services.open_cycle(cycle, now=now + dt.timedelta(hours=1))
    per_rater = Counter(
        ReviewRequest.objects.filter(cycle=cycle).values_list("rater_id", flat=True)
    )
    assert sorted(per_rater.values()) == [3] * 6
