"""HR's admin: who gets in, and that every change made there keeps the graph whole."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from relations import services
from relations.models import (
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    RankKind,
    RelationPair,
    Workflow,
)
from relations.roles import HR_GROUP
from tests.conftest import PASSWORD
from tests.factories import DepartmentFactory
from tests.relations.invariants import assert_graph_invariants


@pytest.fixture
def hr(client, hr_user):
    client.force_login(hr_user)
    return client


@pytest.fixture
def function_edge(company):
    """商务部 → 销售部 (contract review), reverse 销售部 → 商务部 (customer needs)."""
    return services.create_pair(
        EdgeType.FUNCTION,
        company["commerce"],
        company["sales"],
        service="合同审核",
        reverse_service="客户需求与订单信息",
    )


def changelist(model: str) -> str:
    return reverse(f"admin:relations_{model}_changelist")


def change_url(model: str, pk: int) -> str:
    return reverse(f"admin:relations_{model}_change", args=[pk])


def query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def active_rank_pairs() -> set[tuple[str, str]]:
    return set(
        Edge.objects.active()
        .filter(type=EdgeType.RANK, direction=Direction.FORWARD)
        .values_list("provider_employee__employee_id", "customer_employee__employee_id")
    )


# --- Who gets in -------------------------------------------------------------------------------


def test_hr_group_gets_the_permissions_the_admin_needs(db):
    group = Group.objects.get(name=HR_GROUP)
    codenames = set(group.permissions.values_list("content_type__app_label", "codename"))
    assert ("relations", "change_edge") in codenames
    assert ("relations", "add_employee") in codenames
    assert ("django_celery_beat", "change_periodictask") in codenames


def test_hr_group_setup_can_run_again_without_duplicates(db):
    from relations.permissions import ensure_hr_group

    before = Group.objects.get(name=HR_GROUP).permissions.count()
    ensure_hr_group()
    ensure_hr_group()
    assert Group.objects.filter(name=HR_GROUP).count() == 1
    assert Group.objects.get(name=HR_GROUP).permissions.count() == before


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:index"),
        changelist("edge"),
        reverse("admin:import_org"),
    ],
)
def test_staff_outside_hr_is_sent_to_the_admin_login(client, django_user_model, url):
    user = django_user_model.objects.create_user(username="ops", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="relations"))
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_an_employee_cannot_open_the_admin(client, company):
    client.force_login(company["seller"].user)
    response = client.get(changelist("employee"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_hr_in_the_group_and_superusers_get_in(client, hr_user, django_user_model):
    client.force_login(hr_user)
    assert client.get(reverse("admin:index")).status_code == 200
    root = django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(root)
    assert client.get(reverse("admin:index")).status_code == 200


def test_hr_without_staff_flag_is_refused(client, hr_user):
    hr_user.is_staff = False
    hr_user.save()
    client.force_login(hr_user)
    assert client.get(reverse("admin:index")).status_code == 302


def test_admin_index_links_the_import_page(hr):
    response = hr.get(reverse("admin:index"))
    assert reverse("admin:import_org") in response.content.decode()


# --- Changelists ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["department", "employee", "edge", "relationpair", "workflow"])
def test_changelists_cost_the_same_number_of_queries_for_more_rows(hr, company, model):
    services.create_pair(EdgeType.FUNCTION, company["commerce"], company["sales"], service="a")
    url = changelist(model)
    before = query_count(hr, url)
    # More of everything: departments, people, edges, workflows.
    extra = DepartmentFactory(parent=company["sales"])
    for n in range(5):
        services.hire_employee(
            employee_id=f"X{n}", name=f"新人{n}", department=extra, manager=company["seller"]
        )
        services.create_pair(
            EdgeType.WORKFLOW, extra, Employee.objects.get(employee_id=f"X{n}"), service="b"
        )
        Workflow.objects.create(code=f"WF{n}", name=f"流程{n}")
    assert query_count(hr, url) == before
    assert before <= 16


def test_department_changelist_is_an_indented_tree(hr, company):
    north = DepartmentFactory(code="SALES-N", name="销售北区", parent=company["sales"])
    response = hr.get(changelist("department"))
    html = response.content.decode()
    nodes = re.findall(r'data-depth="(\d)"[^>]*>(?:└ )?([^<]+)<', html)
    assert nodes == [("0", "总部"), ("1", "商务部"), ("1", "销售部"), ("2", north.name)]


def test_department_changelist_filters_by_parent_and_searches_code(hr, company):
    response = hr.get(changelist("department"), {"parent__id__exact": company["hq"].pk})
    names = {d.name for d in response.context["cl"].result_list}
    assert names == {"销售部", "商务部"}
    response = hr.get(changelist("department"), {"q": "COM"})
    assert [d.code for d in response.context["cl"].result_list] == ["COM"]


def test_employee_changelist_searches_and_filters(hr, company):
    def found(params):
        response = hr.get(changelist("employee"), params)
        return {e.employee_id for e in response.context["cl"].result_list}

    assert found({"q": "zhang@example"}) == {"E003"}
    assert found({"q": "张三"}) == {"E003"}
    assert found({"has_manager": "no"}) == {"E001"}
    assert found({"department__id__exact": company["sales"].pk}) == {"E002", "E003"}
    services.deactivate_employee(company["seller"])
    assert found({"active__exact": "0"}) == {"E003"}


def test_edge_changelist_shows_each_edges_reverse(hr, function_edge):
    reverse_edge = function_edge.reverse
    response = hr.get(changelist("edge"), {"type__exact": "function"})
    html = response.content.decode()
    assert f'href="{change_url("edge", reverse_edge.pk)}">#{reverse_edge.pk}</a>' in html
    assert f'href="{change_url("edge", function_edge.pk)}">#{function_edge.pk}</a>' in html
    assert "客户需求与订单信息" in html and "合同审核" in html


def test_edge_changelist_filters_by_type_kind_activity_and_end(hr, company, function_edge):
    def found(params):
        response = hr.get(changelist("edge"), params)
        return {e.pk for e in response.context["cl"].result_list}

    function_ids = {function_edge.pk, function_edge.reverse.pk}
    assert found({"type__exact": "function"}) == function_ids
    task_edges = found({"rank_kind__exact": RankKind.TASK})
    assert task_edges and all(
        e.rank_kind == RankKind.TASK for e in Edge.objects.filter(pk__in=task_edges)
    )
    assert found({"provider_department__id__exact": company["commerce"].pk}) == {function_edge.pk}
    assert found({"customer_department__id__exact": company["commerce"].pk}) == {
        function_edge.reverse.pk
    }
    seller_edges = found({"q": "E003"})
    assert seller_edges == set(
        Edge.objects.touching_employee(company["seller"].pk).values_list("pk", flat=True)
    )
    services.retire_pairs([function_edge.pair_id])
    assert found({"active": "no"}) == function_ids
    assert not found({"active": "yes"}) & function_ids


# --- Departments -----------------------------------------------------------------------------


def department_form(dept: Department, **changes) -> dict:
    data = {
        "code": dept.code,
        "name": dept.name,
        "parent": dept.parent_id or "",
        "head": dept.head_id or "",
        "active": "on" if dept.active else "",
    }
    data.update(changes)
    return data


def test_a_parent_that_makes_a_cycle_is_a_form_error(hr, company):
    hq = company["hq"]
    response = hr.post(
        change_url("department", hq.pk), department_form(hq, parent=company["sales"].pk)
    )
    assert response.status_code == 200
    assert "cycle in the department tree" in response.content.decode()
    hq.refresh_from_db()
    assert hq.parent_id is None


def test_moving_a_department_under_another_parent(hr, company):
    sales = company["sales"]
    response = hr.post(
        change_url("department", sales.pk), department_form(sales, parent=company["commerce"].pk)
    )
    assert response.status_code == 302
    sales.refresh_from_db()
    assert sales.parent_id == company["commerce"].pk


# --- Employees -------------------------------------------------------------------------------


def employee_form(emp: Employee, **changes) -> dict:
    data = {
        "name": emp.name,
        "email": emp.email,
        "department": emp.department_id,
        "manager": emp.manager_id or "",
        "title": emp.title,
        "language": emp.language,
        "active": "on" if emp.active else "",
    }
    data.update(changes)
    return data


def test_changing_the_manager_in_the_admin_replaces_the_rank_edges(hr, company):
    seller, old, new = company["seller"], company["sales_head"], company["commerce_head"]
    old_pair = (
        Edge.objects.active()
        .get(type=EdgeType.RANK, provider_employee=seller, customer_employee=old)
        .pair_id
    )
    response = hr.post(change_url("employee", seller.pk), employee_form(seller, manager=new.pk))
    assert response.status_code == 302
    pairs = active_rank_pairs()
    assert ("E003", "E004") in pairs and ("E003", "E002") not in pairs
    assert Edge.objects.filter(pair_id=old_pair, valid_to__isnull=False).count() == 2
    assert_graph_invariants()


def test_a_manager_that_makes_a_cycle_is_a_form_error(hr, company):
    ceo = company["ceo"]
    response = hr.post(
        change_url("employee", ceo.pk), employee_form(ceo, manager=company["seller"].pk)
    )
    assert response.status_code == 200
    assert "cycle in the reporting line" in response.content.decode()
    ceo.refresh_from_db()
    assert ceo.manager_id is None


def test_adding_an_employee_creates_the_login_and_rank_edges(hr, company):
    response = hr.post(
        reverse("admin:relations_employee_add"),
        {
            "employee_id": "E100",
            "name": "钱新",
            "email": "qian@example.com",
            "department": company["sales"].pk,
            "manager": company["sales_head"].pk,
            "title": "销售代表",
            "language": "zh-hans",
            "active": "on",
        },
    )
    assert response.status_code == 302
    employee = Employee.objects.get(employee_id="E100")
    assert employee.user.username == "E100"
    assert not employee.user.has_usable_password()
    assert ("E100", "E002") in active_rank_pairs()


def test_unticking_active_deactivates_the_person(hr, company):
    seller = company["seller"]
    response = hr.post(change_url("employee", seller.pk), employee_form(seller, active=""))
    assert response.status_code == 302
    seller.refresh_from_db()
    seller.user.refresh_from_db()
    assert not seller.active and not seller.user.is_active
    assert not Edge.objects.active().touching_employee(seller.pk).exists()


def test_deactivate_action_retires_the_persons_edges(hr, company):
    seller = company["seller"]
    response = hr.post(
        changelist("employee"),
        {"action": "deactivate_selected", "_selected_action": [seller.pk]},
    )
    assert response.status_code == 302
    assert not Employee.objects.get(pk=seller.pk).active
    assert not Edge.objects.active().touching_employee(seller.pk).exists()
    assert Edge.objects.touching_employee(seller.pk).exists()  # history stays


def test_employees_cannot_be_deleted_in_the_admin(hr, company):
    response = hr.post(
        reverse("admin:relations_employee_delete", args=[company["seller"].pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Employee.objects.filter(pk=company["seller"].pk).exists()


def test_password_set_link_lets_a_new_person_choose_a_password(hr, client, company):
    newcomer = services.hire_employee(
        employee_id="E200", name="孙新", email="sun@example.com", department=company["sales"]
    )
    response = hr.post(
        changelist("employee"),
        {"action": "send_password_set_links", "_selected_action": [newcomer.pk]},
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["sun@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", message.body).group(1)

    client.logout()
    response = client.get(link, follow=True)
    assert response.status_code == 200 and response.context["validlink"]
    response = client.post(
        response.redirect_chain[-1][0],
        {"new_password1": "Zhang-san-2024!", "new_password2": "Zhang-san-2024!"},
    )
    assert response.status_code == 302
    newcomer.user.refresh_from_db()
    assert newcomer.user.check_password("Zhang-san-2024!")


def test_password_set_link_skips_people_without_email(hr, company):
    nomail = services.hire_employee(employee_id="E201", name="无邮", department=company["hq"])
    response = hr.post(
        changelist("employee"),
        {"action": "send_password_set_links", "_selected_action": [nomail.pk]},
        follow=True,
    )
    assert mail.outbox == []
    assert "无邮" in response.content.decode()


# --- Relationships ---------------------------------------------------------------------------


def edge_add_form(
    provider_department="",
    provider_employee="",
    customer_department="",
    customer_employee="",
    **extra,
) -> dict:
    return {
        "type": "function",
        "provider_department": provider_department,
        "provider_employee": provider_employee,
        "customer_department": customer_department,
        "customer_employee": customer_employee,
        "service": "预算编制",
        "reverse_service": "预算需求",
        **extra,
    }


def test_adding_a_relationship_creates_it_with_its_reverse(hr, company):
    fin = DepartmentFactory(code="FIN", name="财务部", parent=company["hq"])
    response = hr.post(
        reverse("admin:relations_edge_add"),
        edge_add_form(provider_department=fin.pk, customer_department=company["sales"].pk),
    )
    assert response.status_code == 302
    forward = Edge.objects.active().get(type=EdgeType.FUNCTION, provider_department=fin)
    reverse_edge = forward.reverse
    assert (forward.service, reverse_edge.service) == ("预算编制", "预算需求")
    assert reverse_edge.customer_department_id == fin.pk
    assert_graph_invariants()


@pytest.mark.parametrize("swap", [False, True])
def test_adding_an_existing_relationship_or_its_reverse_is_a_form_error(
    hr, company, function_edge, swap
):
    provider, customer = company["commerce"], company["sales"]
    if swap:
        provider, customer = customer, provider
    response = hr.post(
        reverse("admin:relations_edge_add"),
        edge_add_form(provider_department=provider.pk, customer_department=customer.pk),
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Edge.objects.active().filter(type=EdgeType.FUNCTION).count() == 2


def test_a_relationship_needs_exactly_one_end_each_side(hr, company):
    response = hr.post(
        reverse("admin:relations_edge_add"),
        edge_add_form(
            provider_department=company["sales"].pk,
            provider_employee=company["seller"].pk,
            customer_department=company["commerce"].pk,
        ),
    )
    assert response.status_code == 200
    assert "exactly one of a department or an employee" in response.content.decode()
    assert not Edge.objects.filter(type=EdgeType.FUNCTION).exists()


def edge_change_form(edge: Edge, **changes) -> dict:
    data = {
        "provider_department": edge.provider_department_id or "",
        "provider_employee": edge.provider_employee_id or "",
        "customer_department": edge.customer_department_id or "",
        "customer_employee": edge.customer_employee_id or "",
        "service": edge.service,
        "reverse_service": edge.reverse.service,
    }
    data.update(changes)
    return data


def test_editing_services_on_the_reverse_edge_updates_the_pair(hr, function_edge):
    reverse_edge = function_edge.reverse
    response = hr.post(
        change_url("edge", reverse_edge.pk),
        edge_change_form(reverse_edge, service="需求清单", reverse_service="合同审核与盖章"),
    )
    assert response.status_code == 302
    function_edge.refresh_from_db()
    reverse_edge.refresh_from_db()
    assert reverse_edge.service == "需求清单"
    assert function_edge.service == "合同审核与盖章"
    assert function_edge.is_active and reverse_edge.is_active


def test_editing_an_end_retires_the_pair_and_makes_a_new_one(hr, company, function_edge):
    fin = DepartmentFactory(code="FIN", name="财务部", parent=company["hq"])
    response = hr.post(
        change_url("edge", function_edge.pk),
        edge_change_form(function_edge, customer_department=fin.pk),
    )
    assert response.status_code == 302
    assert Edge.objects.filter(pair_id=function_edge.pair_id, valid_to__isnull=False).count() == 2
    new = Edge.objects.active().get(type=EdgeType.FUNCTION, direction=Direction.FORWARD)
    assert (new.provider_department_id, new.customer_department_id) == (
        company["commerce"].pk,
        fin.pk,
    )
    assert (
        new.service == "合同审核" and new.reverse.customer_department_id == company["commerce"].pk
    )
    assert_graph_invariants()


def test_deleting_a_relationship_retires_the_pair_and_keeps_the_rows(hr, function_edge):
    url = reverse("admin:relations_edge_delete", args=[function_edge.pk])
    page = hr.get(url)
    assert page.status_code == 200 and "Retire" in page.content.decode()
    response = hr.post(url, {"post": "yes"})
    assert response.status_code == 302
    edges = Edge.objects.filter(pair_id=function_edge.pair_id)
    assert edges.count() == 2
    assert all(not e.is_active for e in edges)
    assert not RelationPair.objects.get(pk=function_edge.pair_id).is_active


def test_retire_action_retires_selected_pairs_and_skips_rank_edges(hr, company, function_edge):
    rank_edge = Edge.objects.active().filter(type=EdgeType.RANK).first()
    data = {
        "action": "retire_selected",
        "_selected_action": [function_edge.reverse.pk, rank_edge.pk],
    }
    confirm = hr.post(changelist("edge"), data)
    assert confirm.status_code == 200
    assert [e.pk for e in confirm.context["edges"]] == [function_edge.reverse.pk]
    assert confirm.context["skipped"] == 1
    assert Edge.objects.get(pk=function_edge.pk).is_active  # nothing retired before the yes

    response = hr.post(changelist("edge"), {**data, "post": "yes"})
    assert response.status_code == 302
    assert not Edge.objects.filter(pair_id=function_edge.pair_id, valid_to__isnull=True).exists()
    assert Edge.objects.filter(pair_id=function_edge.pair_id).count() == 2
    assert Edge.objects.get(pk=rank_edge.pk).is_active


def test_the_stock_delete_action_is_not_offered_for_relationships(hr, function_edge):
    response = hr.get(changelist("edge"))
    actions = [name for name, _label in response.context["action_form"].fields["action"].choices]
    assert "retire_selected" in actions and "delete_selected" not in actions


def test_rank_edges_are_read_only(hr, company):
    rank_edge = Edge.objects.active().filter(type=EdgeType.RANK).first()
    before = rank_edge.service
    response = hr.post(change_url("edge", rank_edge.pk), {"service": "改掉"})
    assert response.status_code == 403
    assert (
        hr.post(
            reverse("admin:relations_edge_delete", args=[rank_edge.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    rank_edge.refresh_from_db()
    assert rank_edge.service == before and rank_edge.is_active


def test_retired_edges_are_read_only(hr, function_edge):
    services.retire_pairs([function_edge.pair_id])
    response = hr.post(
        change_url("edge", function_edge.pk), edge_change_form(function_edge, service="x")
    )
    assert response.status_code == 403
    function_edge.refresh_from_db()
    assert function_edge.service == "合同审核"


def test_relation_pair_page_shows_both_edges(hr, function_edge):
    response = hr.get(change_url("relationpair", function_edge.pair_id))
    html = response.content.decode()
    assert response.status_code == 200
    assert "合同审核" in html and "客户需求与订单信息" in html


def test_the_pairs_list_says_between_whom_each_pair_is_in_a_fixed_number_of_queries(
    hr, company, function_edge
):
    url = reverse("admin:relations_relationpair_changelist")
    html = hr.get(url).content.decode()
    assert "商务部 (COM) → 销售部 (SALES)" in html
    one = query_count(hr, url)
    services.create_pair(EdgeType.FUNCTION, company["sales"], company["hq"], service="报表")
    html = hr.get(url).content.decode()
    assert "商务部 (COM) → 销售部 (SALES)" in html and "销售部 (SALES) → 总部 (HQ)" in html
    assert query_count(hr, url) == one


# --- Workflows ---------------------------------------------------------------------------------


def workflow_form(steps: list[tuple[str, dict]], existing: list[int] | None = None) -> dict:
    existing = existing or []
    data = {
        "code": "WF-ORDER",
        "name": "订单流程",
        "description": "",
        "active": "on",
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": len(existing),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
    }
    for i, (name, owner) in enumerate(steps):
        data[f"steps-{i}-position"] = i + 1
        data[f"steps-{i}-name"] = name
        data[f"steps-{i}-owner_department"] = owner.get("department", "")
        data[f"steps-{i}-owner_employee"] = owner.get("employee", "")
        if i < len(existing):
            data[f"steps-{i}-id"] = existing[i]
    return data


def process_pairs() -> set[tuple]:
    return set(
        Edge.objects.active()
        .filter(type=EdgeType.PROCESS, direction=Direction.FORWARD)
        .values_list("provider_department__code", "customer_department__code")
    )


def test_saving_a_workflow_with_steps_makes_process_edges(hr, company):
    sales, commerce, hq = company["sales"], company["commerce"], company["hq"]
    response = hr.post(
        reverse("admin:relations_workflow_add"),
        workflow_form([("签单", {"department": sales.pk}), ("审核", {"department": commerce.pk})]),
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    assert process_pairs() == {("SALES", "COM")}

    workflow = Workflow.objects.get(code="WF-ORDER")
    step_ids = list(workflow.steps.order_by("position").values_list("id", flat=True))
    data = workflow_form(
        [("签单", {"department": sales.pk}), ("审核", {"department": hq.pk})], existing=step_ids
    )
    response = hr.post(change_url("workflow", workflow.pk), data)
    assert response.status_code == 302
    assert process_pairs() == {("SALES", "HQ")}
    assert_graph_invariants()


def test_a_step_needs_exactly_one_owner(hr, company):
    response = hr.post(
        reverse("admin:relations_workflow_add"),
        workflow_form(
            [("签单", {"department": company["sales"].pk, "employee": company["seller"].pk})]
        ),
    )
    assert response.status_code == 200
    assert "exactly one of a department or an employee" in response.content.decode()
    assert not Workflow.objects.exists()


def test_hr_can_add_and_retire_a_process_relationship_of_their_own(hr, company):
    response = hr.post(
        reverse("admin:relations_edge_add"),
        edge_add_form(
            type="process",
            provider_employee=company["seller"].pk,
            customer_employee=company["commerce_head"].pk,
        ),
    )
    assert response.status_code == 302
    edge = Edge.objects.active().get(type=EdgeType.PROCESS, direction=Direction.FORWARD)
    assert edge.pair.workflow_id is None
    services.sync_process_edges()  # saving any workflow runs this: HR's pair stays
    assert Edge.objects.get(pk=edge.pk).is_active

    response = hr.post(reverse("admin:relations_edge_delete", args=[edge.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Edge.objects.filter(pair_id=edge.pair_id, valid_to__isnull=True).exists()


def test_a_workflows_process_edges_take_only_service_edits(hr, company):
    workflow = Workflow.objects.create(code="WF1", name="订单流程")
    services.set_workflow_steps(
        workflow, [("签单", company["sales"]), ("审核", company["commerce"])]
    )
    edge = Edge.objects.active().get(type=EdgeType.PROCESS, direction=Direction.FORWARD)
    response = hr.post(
        change_url("edge", edge.pk),
        {
            "service": "已签合同",
            "reverse_service": "审核意见",
            "customer_department": company["hq"].pk,
        },
    )
    assert response.status_code == 302
    edge.refresh_from_db()
    assert edge.is_active and edge.service == "已签合同"
    assert edge.customer_department_id == company["commerce"].pk  # ends follow the steps
    assert edge.reverse.service == "审核意见"
    response = hr.post(reverse("admin:relations_edge_delete", args=[edge.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Edge.objects.get(pk=edge.pk).is_active


def test_hr_can_sign_in_to_the_admin_with_their_email(client, hr_user):
    page = client.get(reverse("admin:login"))
    assert "Employee ID or e-mail" in page.content.decode()
    response = client.post(
        reverse("admin:login"),
        {"username": "hr@example.com", "password": PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_closing_a_department_retires_its_relationships(hr, company, function_edge):
    commerce = company["commerce"]
    response = hr.post(change_url("department", commerce.pk), department_form(commerce, active=""))
    assert response.status_code == 302
    assert not Edge.objects.filter(pair_id=function_edge.pair_id, valid_to__isnull=True).exists()
    assert Edge.objects.filter(pair_id=function_edge.pair_id).count() == 2
