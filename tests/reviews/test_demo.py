from relations import demo as org_demo
from reviews import results
from reviews.demo import load_review_demo
from reviews.models import Answer, Cycle, CycleStatus, ReviewRequest, ServiceCommitment


def test_the_demo_has_closed_history_and_an_open_cycle(db):
    org_demo.load_demo()
    assert load_review_demo() == {"cycles": 4}
    closed = Cycle.objects.filter(status=CycleStatus.CLOSED)
    assert closed.count() == 3
    assert Cycle.objects.filter(status=CycleStatus.OPEN).count() == 1
    for cycle in closed:
        total = ReviewRequest.objects.filter(cycle=cycle).count()
        answered = ReviewRequest.objects.filter(cycle=cycle).done().count()
        assert total > 50
        assert 0.6 < answered / total < 0.95
        assert Answer.objects.filter(cycle=cycle, submitted=True).count() == answered
    assert load_review_demo() == {"cycles": 0}  # a second run adds nothing
    # Commitments and the front line / functions comparison have something to show.
    assert ServiceCommitment.objects.count() == 4
    latest = closed.order_by("-deadline").first()
    front_rates, functions_rate = results.line_exchange(latest)
    assert front_rates.shown + front_rates.hidden > 0
    assert functions_rate.shown + functions_rate.hidden > 0
