"""A statement prepared on a PostgreSQL connection (icr.db.execute_prepared) after failures.

PREPARE is not transactional: a statement prepared in a round trip whose EXECUTE failed stays
prepared through the rollback, and one that an aborted transaction refused to prepare is not.
"""

import pytest
from django.db import DataError, InternalError, connection, transaction

from icr.db import execute_prepared

pytestmark = pytest.mark.postgresql


def divide(tag: str, divisor: int) -> int:
    """12 / divisor, through a statement of its own for each test (the tag names it)."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, f"SELECT 12 / %s AS {tag}", [divisor])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_statement_whose_first_execution_failed_in_a_transaction_runs_again(
    django_assert_num_queries,
):
    with pytest.raises(DataError), transaction.atomic():
        divide("failed_in_transaction", 0)

    assert divide("failed_in_transaction", 4) == 3
    with django_assert_num_queries(1):  # known to be prepared again: EXECUTE alone
        assert divide("failed_in_transaction", 3) == 4


@pytest.mark.django_db(transaction=True)
def test_statement_whose_first_execution_failed_outside_a_transaction_runs_again():
    with pytest.raises(DataError):
        divide("failed_in_autocommit", 0)

    assert divide("failed_in_autocommit", 4) == 3
    assert divide("failed_in_autocommit", 6) == 2


@pytest.mark.django_db
def test_statement_an_aborted_transaction_refused_to_prepare_is_prepared_later():
    with transaction.atomic():
        with pytest.raises(DataError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        with pytest.raises(InternalError):  # current transaction is aborted
            divide("refused_in_aborted", 4)
        with pytest.raises(InternalError):  # still aborted: asking fails as well
            divide("refused_in_aborted", 4)
        transaction.set_rollback(True)

    assert divide("refused_in_aborted", 4) == 3
    assert divide("refused_in_aborted", 2) == 6
