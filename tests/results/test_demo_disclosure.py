"""The demo company shows what issue 17's goals ask of it: `make bench` prints the same figures
(section results), and a change to the suppression that hides more fails here first."""

from django.conf import settings

from relations import demo as org_demo
from reviews.demo import load_review_demo
from reviews.models import Cycle, CycleStatus
from reviews.results import disclosure_summary


def test_each_closed_demo_cycle_hides_few_figures_and_no_headline(db):
    assert settings.ICR_MIN_RATERS == 3  # the goals are the default N's
    org_demo.load_demo()
    load_review_demo()
    closed = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("deadline")
    assert closed.count() == 3
    for cycle in closed:
        summary = disclosure_summary(cycle)
        # Of the published figures with N raters or more (a smaller one is hidden by rule):
        # at most 15 % hidden, and no department's headline, alone or with its subtree.
        assert summary["with_n_raters"] > 200, (cycle.name, summary)
        assert summary["hidden_percent"] <= 15.0, (cycle.name, summary)
        assert summary["headlines"] == 14, (cycle.name, summary)
        assert summary["headlines_hidden"] == 0, (cycle.name, summary)
        # Distributions are printed for most shown groups of D raters or more.
        assert summary["distributions_printed"] > summary["shown_with_d_raters"] / 2
