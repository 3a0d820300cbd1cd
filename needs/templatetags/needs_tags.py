from django import template

from needs.selectors import department_counts

register = template.Library()


@register.inclusion_tag("needs/_counts_on_results.html")
def need_counts(department):
    """The needs and complaints counts of a department, on its results page (the page's view
    already checked that the viewer sees the department)."""
    return {"department": department, "counts": department_counts(department)}
