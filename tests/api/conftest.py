import pytest
from django.core.cache import cache

from api.models import ApiToken, Scope
from relations import services as graph
from relations.models import EdgeType, Workflow
from tests.factories import DepartmentFactory


@pytest.fixture(autouse=True)
def _eager_celery_and_fresh_rates(settings):
    """Tasks (the hand-off e-mails) run in-process; rate counters start at zero; tokens are
    looked up on every request (tests/api/test_tokens.py tests the worker's copy)."""
    from api.auth import forget_tokens
    from icr.celery import app

    settings.ICR_API_TOKEN_CACHE_SECONDS = 0
    forget_tokens()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    cache.clear()
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


def make_token(*scopes, **fields) -> tuple[ApiToken, str]:
    token = ApiToken(name=fields.pop("name", "ERP"), scopes=list(scopes), **fields)
    secret = token.new_secret()
    token.save()
    return token, secret


class Api:
    """The test client with a token's bearer header."""

    def __init__(self, client, secret: str):
        self.client, self.secret = client, secret

    def _headers(self, key):
        headers = {"Authorization": f"Bearer {self.secret}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def get(self, path, **params):
        return self.client.get(f"/api/v1{path}", params, headers=self._headers(None))

    def post(self, path, body=None, *, key=None):
        return self.client.post(
            f"/api/v1{path}",
            body if body is not None else {},
            content_type="application/json",
            headers=self._headers(key),
        )


@pytest.fixture
def api_client(client, db):
    """A token with every scope, seeing what HR sees."""
    _token, secret = make_token(*Scope.values)
    return Api(client, secret)


@pytest.fixture
def line(company):
    """A hand-off line: 运营部 (OPS) delivers to 销售部 (SALES) in workflow ORDER, whose
    people (head 李销售, 张三 and two more) receive the work; a process step too."""
    ops = DepartmentFactory(code="OPS", name="运营部", parent=company["hq"])
    operator = graph.hire_employee(employee_id="E010", name="周运营", department=ops)
    extra = [
        graph.hire_employee(
            employee_id=f"E02{i}",
            name=f"销售{i}",
            department=company["sales"],
            email=f"s{i}@example.com",
        )
        for i in range(2)
    ]
    workflow = Workflow.objects.create(code="ORDER", name="订单流程")
    edge = graph.create_pair(EdgeType.WORKFLOW, ops, company["sales"], service="订单交付")
    graph.set_workflow_steps(workflow, [("接单", operator), ("交付", company["seller"])])
    step = workflow.steps.get(position=2)
    return {
        **company,
        "ops": ops,
        "operator": operator,
        "receivers": [company["sales_head"], company["seller"], *extra],
        "workflow": workflow,
        "edge": edge,
        "step": step,
    }
