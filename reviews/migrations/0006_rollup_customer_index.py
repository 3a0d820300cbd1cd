from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reviews", "0005_notification_bulk_shape")]

    operations = [
        migrations.AddIndex(
            model_name="rollup",
            index=models.Index(
                condition=models.Q(("scope", "self")),
                fields=["cycle", "customer_department", "kind", "criterion"],
                name="reviews_rollup_customer",
            ),
        ),
    ]
