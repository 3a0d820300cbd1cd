"""Rank service texts ICR generated were stored in the language of the process that wrote them
("所分配任务的工作成果" beside "Work results on assigned tasks"); store them as their key (the
English source) in edges and the requests copied from them, so every reader gets their own
language (`relations.models.service_text`). Texts HR wrote are not touched."""

from django.db import migrations

# Every translation the generated texts were ever stored in, by key.
STORED = {
    "Work results on assigned tasks": ["所分配任务的工作成果"],
    "Resources, opportunities and support": ["资源、机会与支持"],
}


def to_keys(apps, schema_editor):
    Edge = apps.get_model("relations", "Edge")
    ReviewRequest = apps.get_model("reviews", "ReviewRequest")
    for key, texts in STORED.items():
        # One UPDATE per table and text, whatever the number of rows.
        Edge.objects.filter(type="rank", service__in=texts).update(service=key)
        ReviewRequest.objects.filter(edge_type="rank", service__in=texts).update(service=key)


class Migration(migrations.Migration):
    dependencies = [
        ("relations", "0007_audit_trail"),
        ("reviews", "0019_cycle_request_cap"),
    ]

    operations = [migrations.RunPython(to_keys, migrations.RunPython.noop)]
