"""Who represents a department end: its own active members plus its head, not the subtree."""

from relations import services
from relations.membership import department_member_ids
from tests.factories import DepartmentFactory


def test_a_department_is_its_own_active_members_not_its_sub_departments(company):
    hq, sales = company["hq"], company["sales"]

    members = department_member_ids([hq.pk, sales.pk])

    assert members[hq.pk] == [company["ceo"].pk]
    assert members[sales.pk] == sorted([company["sales_head"].pk, company["seller"].pk])


def test_the_head_counts_even_when_seated_in_another_department(company):
    board = DepartmentFactory(code="BOARD", name="董事会", parent=company["hq"])
    board.head = company["ceo"]
    board.save(update_fields=["head"])

    assert department_member_ids([board.pk]) == {board.pk: [company["ceo"].pk]}


def test_people_who_left_do_not_represent_their_department(company):
    services.deactivate_employees([company["seller"].pk, company["commerce_head"].pk])

    members = department_member_ids([company["sales"].pk, company["commerce"].pk])

    assert members == {company["sales"].pk: [company["sales_head"].pk], company["commerce"].pk: []}


def test_member_lookup_costs_two_queries_for_any_number_of_departments(
    company, django_assert_num_queries
):
    ids = [company[key].pk for key in ("hq", "sales", "commerce")]
    with django_assert_num_queries(2):
        department_member_ids(ids)
