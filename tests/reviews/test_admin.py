import datetime as dt

from django.urls import reverse
from django.utils import timezone

from reviews import services
from reviews.models import Criterion, CycleTemplate


def test_hr_admin_pages_for_cycles_and_criteria_render(client, hr_user, open_cycle):
    client.force_login(hr_user)
    for name in ("cycle", "criterion", "cycletemplate", "reviewrequest", "notificationlog"):
        assert client.get(reverse(f"admin:reviews_{name}_changelist")).status_code == 200
    assert (
        client.get(reverse("admin:reviews_cycle_change", args=[open_cycle.pk])).status_code == 200
    )
    assert client.get(reverse("admin:reviews_cycle_add")).status_code == 200
    criterion = Criterion.objects.first()
    url = reverse("admin:reviews_criterion_change", args=[criterion.pk])
    assert client.get(url).status_code == 200


def test_saving_a_schedule_in_the_admin_creates_its_beat_task(client, hr_user, db):
    client.force_login(hr_user)
    response = client.post(
        reverse("admin:reviews_cycletemplate_add"),
        {
            "name": "月度互评",
            "active": "on",
            "cadence": "monthly",
            "edge_types": ["rank", "function"],
            "open_days": "10",
            "period_days": "30",
            "reminder_offsets": "3, 1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    template = CycleTemplate.objects.get()
    assert template.reminder_offsets == [3, 1]
    assert template.periodic_task.crontab.day_of_month == "1"
    assert template.periodic_task.enabled


def test_hr_opens_a_cycle_with_an_admin_action(client, hr_user, org):
    cycle = services.create_cycle(name="手动", deadline=timezone.now() + dt.timedelta(days=5))
    client.force_login(hr_user)
    client.post(
        reverse("admin:reviews_cycle_changelist"),
        {"action": "open_selected", "_selected_action": [cycle.pk]},
    )
    cycle.refresh_from_db()
    assert cycle.status == "open"


def test_a_closed_cycles_admin_page_reads_as_words_not_json(client, hr_user, open_cycle):
    services.close_cycle(open_cycle)
    client.force_login(hr_user)
    html = client.get(reverse("admin:reviews_cycle_change", args=[open_cycle.pk])).content.decode()
    assert '["rank"' not in html and '{"requests"' not in html
    assert "Function, Process, Rank, Workflow" in html
    requests = open_cycle.requests.count()
    assert f"requests: {requests}" in html


def test_the_admin_home_shows_hr_no_scheduler_tables_but_a_superuser_does(
    client, hr_user, django_user_model
):
    client.force_login(hr_user)
    html = client.get(reverse("admin:index")).content.decode()
    assert "django_celery_beat" not in html and "/admin/reviews/cycle/" in html
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(root)
    assert "django_celery_beat" in client.get(reverse("admin:index")).content.decode()
