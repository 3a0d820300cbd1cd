"""Reading the organisation: cursor pages, relationships with their reverses."""

from relations.models import Department, Direction, Edge


def test_departments_come_in_cursor_pages(api_client, company):
    first = api_client.get("/departments/", limit=2).json()
    assert len(first["results"]) == 2
    rest = api_client.get("/departments/", limit=2, cursor=first["next_cursor"]).json()
    assert rest["next_cursor"] is None
    codes = [d["code"] for d in first["results"] + rest["results"]]
    assert sorted(codes) == sorted(Department.objects.values_list("code", flat=True))


def test_a_bad_cursor_is_a_400_problem(api_client, company):
    response = api_client.get("/departments/", cursor="%%%")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_each_relationship_comes_with_its_reverse(api_client, line):
    pairs = api_client.get("/relationships/", type="workflow").json()["results"]
    (pair,) = pairs
    forward, reverse = pair["forward"], pair["reverse"]
    assert forward["reverse_id"] == reverse["id"] and reverse["reverse_id"] == forward["id"]
    assert forward["provider_department_id"] == reverse["customer_department_id"]
    assert Edge.objects.get(pk=reverse["id"]).direction == Direction.REVERSE


def test_workflows_list_their_steps_in_order(api_client, line):
    (workflow,) = api_client.get("/workflows/").json()["results"]
    assert [s["position"] for s in workflow["steps"]] == [1, 2]


def test_an_unknown_id_is_a_404_problem(api_client, company):
    response = api_client.get("/employees/999999")
    assert response.status_code == 404
    assert response.json()["title"]
