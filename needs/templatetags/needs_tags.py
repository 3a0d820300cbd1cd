from django import template

from needs.selectors import department_counts

register = template.Library()


@register.inclusion_tag("needs/_counts_on_results.html", takes_context=True)
def need_counts(context, department):
    """The needs and complaints counts of a department, on its results page (the page's view
    already checked that the viewer sees the department, and read its subtree: `tree_ids`)."""
    return {
        "department": department,
        "counts": department_counts(department, tree_ids=context.get("tree_ids")),
    }
