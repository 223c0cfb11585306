"""Template tags for the markup every page repeats: a table that never makes a page scroll
sideways, and the empty state that stands in for it when there is nothing to list.

On a phone (static/css/app.css, `table.stack-sm`) each row of a table becomes a block of
"label: value" lines, the labels taken from the table's own column headings: the tag writes
each cell's `data-label` from its column's `<th>`, so a template writes a plain table and
gets both layouts. `stack=False` keeps a table a table on a phone (it then scrolls inside
its card), for a table with a phone layout of its own.

    {% load components %}
    {% table invoices class="invoices-table" %}
      <thead>…</thead><tbody>{% for invoice in invoices %}…{% endfor %}</tbody>
    {% empty %}
      <p>No invoices yet. They appear when a cycle with fees or overage ends.</p>
    {% endtable %}

    {% emptystate %}<h3>No usage yet</h3><p>Create an API key and send a request.</p>{% endemptystate %}

The markup itself is in templates/components/table.html and empty_state.html, so a change
to how tables or empty states look is made once. Every table that can be empty gives an
`{% empty %}` that says what to do next; without one, no rows render nothing.
"""

import re
from html import unescape

from django import template
from django.template.base import token_kwargs
from django.utils.html import escape, strip_tags
from django.utils.safestring import mark_safe

register = template.Library()


class _ComponentNode(template.Node):
    component = ""

    def _render_component(self, context, **values):
        component = context.template.engine.get_template(self.component)
        return component.render(context.new(values))


HEAD = re.compile(r"<thead\b.*?</thead>", re.S)
HEADING = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
SCREEN_READER_ONLY = re.compile(r'<span class="sr-only">.*?</span>', re.S)
ROW = re.compile(r"(<tbody\b.*?</tbody>)", re.S)
CELL = re.compile(r"<td\b(?![^>]*\bdata-label=)")


def _column_labels(html):
    """The visible text of each column heading; "" for a heading only screen readers hear
    (an actions column), so its cells get no label."""
    head = HEAD.search(html)
    if head is None:
        return []
    return [" ".join(unescape(strip_tags(SCREEN_READER_ONLY.sub("", cell))).split())
            for cell in HEADING.findall(head.group(0))]


def _labelled(html):
    """The table's body with `data-label="<column heading>"` on every cell of every row, or
    None for a table without headings (nothing to label its cells with: it stays a table)."""
    labels = _column_labels(html)
    if not labels:
        return None

    def label_row(row):
        cells = iter(labels)
        return CELL.sub(lambda _: f'<td data-label="{escape(next(cells, ""))}"', row.group(0))

    def label_body(body):
        return re.sub(r"<tr\b.*?</tr>", label_row, body.group(0), flags=re.S)

    return ROW.sub(label_body, html)


class TableNode(_ComponentNode):
    component = "components/table.html"

    def __init__(self, rows, attrs, body, empty):
        self.rows, self.attrs, self.body, self.empty = rows, attrs, body, empty

    def render(self, context):
        if self.rows.resolve(context):
            attrs = {name: value.resolve(context) for name, value in self.attrs.items()}
            body = self.body.render(context)
            classes = [attrs.get("class") or ""]
            labelled = _labelled(body) if attrs.get("stack", True) else None
            if labelled is not None:
                body = labelled
                classes.append("stack-sm")
            return self._render_component(context, body=mark_safe(body), **{"class": " ".join(filter(None, classes))})
        return EmptyStateNode(self.empty).render(context) if self.empty is not None else ""


class EmptyStateNode(_ComponentNode):
    component = "components/empty_state.html"

    def __init__(self, body):
        self.body = body

    def render(self, context):
        return self._render_component(context, body=self.body.render(context))


@register.tag("table")
def table(parser, token):
    """{% table ROWS [class="…"] [stack=False] %}…[{% empty %}…]{% endtable %}: the table if
    ROWS has any, else the empty state (or nothing, for a table that is never empty or is
    optional). On a phone its rows become stacked blocks, unless stack=False."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("{% table %} needs the rows it lists, e.g. {% table invoices %}.")
    rows = parser.compile_filter(bits[1])
    attrs = token_kwargs(bits[2:], parser)
    if len(attrs) != len(bits) - 2 or set(attrs) - {"class", "stack"}:
        raise template.TemplateSyntaxError('{% table %} takes the rows, an optional class="…" and stack=False.')
    body = parser.parse(("empty", "endtable"))
    empty = None
    if parser.next_token().contents == "empty":
        empty = parser.parse(("endtable",))
        parser.delete_first_token()
    return TableNode(rows, attrs, body, empty)


@register.tag("emptystate")
def emptystate(parser, token):
    """{% emptystate %}…{% endemptystate %}: what a card shows when it has nothing to show yet."""
    body = parser.parse(("endemptystate",))
    parser.delete_first_token()
    return EmptyStateNode(body)
