"""Errors as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from django.http import JsonResponse

CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """An error the API answers with: status, a short title, the detail, extra members."""

    def __init__(self, status: int, title: str, detail: str = "", *, headers=None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, str(title), str(detail)
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str = "") -> dict:
        body = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str = "") -> JsonResponse:
    response = JsonResponse(
        problem.body(instance),
        status=problem.status,
        content_type=CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in problem.headers.items():
        response[name] = value
    return response


def pointer_of(loc) -> str:
    """A JSON pointer from a pydantic error location, without ninja's leading "body"."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:]  # ninja's ("body", <the parameter's name>, …)
    elif parts and parts[0] in ("query", "path", "header"):
        parts = parts[1:]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)
