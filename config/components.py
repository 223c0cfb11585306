"""Template tags for the markup every page repeats: a table that scrolls inside its card on a
phone, and the empty state that stands in for it when there is nothing to list.

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

from django import template
from django.template.base import token_kwargs

register = template.Library()


class _ComponentNode(template.Node):
    component = ""

    def _render_component(self, context, **values):
        component = context.template.engine.get_template(self.component)
        return component.render(context.new(values))


class TableNode(_ComponentNode):
    component = "components/table.html"

    def __init__(self, rows, attrs, body, empty):
        self.rows, self.attrs, self.body, self.empty = rows, attrs, body, empty

    def render(self, context):
        if self.rows.resolve(context):
            attrs = {name: value.resolve(context) for name, value in self.attrs.items()}
            return self._render_component(context, body=self.body.render(context), **attrs)
        return EmptyStateNode(self.empty).render(context) if self.empty is not None else ""


class EmptyStateNode(_ComponentNode):
    component = "components/empty_state.html"

    def __init__(self, body):
        self.body = body

    def render(self, context):
        return self._render_component(context, body=self.body.render(context))


@register.tag("table")
def table(parser, token):
    """{% table ROWS [class="…"] %}…[{% empty %}…]{% endtable %}: the table if ROWS has any,
    else the empty state (or nothing, for a table that is never empty or is optional)."""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("{% table %} needs the rows it lists, e.g. {% table invoices %}.")
    rows = parser.compile_filter(bits[1])
    attrs = token_kwargs(bits[2:], parser)
    if len(attrs) != len(bits) - 2 or set(attrs) - {"class"}:
        raise template.TemplateSyntaxError('{% table %} takes the rows and an optional class="…".')
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
