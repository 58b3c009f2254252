from django import template

from vitiweb.figure_text import figure_table

register = template.Library()


@register.inclusion_tag("vitiweb/_figure_table.html")
def figure_data(figure: dict, caption: str, category: str = ""):
    """The numbers of a chart in a table behind a disclosure, beside the chart."""
    return {"table": figure_table(figure, category), "caption": caption}
