"""{% table %} and {% emptystate %}: every list on the pages scrolls inside its card, and says
what to do next when it is empty."""

import pytest
from django.template import Context, Template, TemplateSyntaxError

LIST = (
    "{% load components %}{% table rows class='keys-table' %}"
    "<tbody>{% for r in rows %}<tr><td>{{ r }}</td></tr>{% endfor %}</tbody>"
    "{% empty %}<p>No keys yet. Create one to call the API.</p>{% endtable %}"
)


def _render(source, **values):
    return Template(source).render(Context(values))


def test_it_shows_the_rows_in_a_table_that_scrolls_on_a_phone():
    html = _render(LIST, rows=["CI key", "<b>prod</b>"])
    assert '<div class="table-wrap">' in html
    assert '<table class="keys-table"><tbody><tr><td>CI key</td></tr>' in html
    assert "&lt;b&gt;prod&lt;/b&gt;" in html  # still escaped once, not twice or never
    assert "No keys yet" not in html


def test_it_says_what_to_do_when_there_are_no_rows():
    html = _render(LIST, rows=[])
    assert '<div class="empty-state"><p>No keys yet. Create one to call the API.</p></div>' in html
    assert "<table" not in html


def test_a_table_without_an_empty_clause_shows_nothing_when_empty():
    source = "{% load components %}{% table rows %}<tbody></tbody>{% endtable %}"
    assert _render(source, rows=[]).strip() == ""
    assert "<table>" in _render(source, rows=[1])


def test_an_empty_state_on_its_own():
    html = _render("{% load components %}{% emptystate %}<h3>No usage yet</h3>{% endemptystate %}")
    assert '<div class="empty-state"><h3>No usage yet</h3></div>' in html


@pytest.mark.parametrize("source", [
    "{% load components %}{% table %}{% endtable %}",
    "{% load components %}{% table rows style='x' %}{% endtable %}",
])
def test_a_misused_table_tag_is_a_template_error(source):
    with pytest.raises(TemplateSyntaxError):
        Template(source)


WIDE = (
    "{% load components %}{% table rows class='keys-table' %}"
    '<thead><tr><th scope="col">Name</th><th scope="col" class="num">Credits &amp; USD</th>'
    '<th scope="col"><span class="sr-only">Actions</span></th></tr></thead>'
    "<tbody>{% for r in rows %}<tr><td>{{ r }}</td><td class=\"num\">1.00</td><td><button>Revoke</button></td></tr>"
    "{% endfor %}</tbody>{% endtable %}"
)


def test_on_a_phone_every_row_stacks_with_its_column_headings_as_labels():
    html = _render(WIDE, rows=["CI key", "Prod"])
    assert '<table class="keys-table stack-sm">' in html
    assert html.count('<td data-label="Name">') == 2
    assert html.count('<td data-label="Credits &amp; USD" class="num">1.00</td>') == 2
    assert html.count('<td data-label=""><button>Revoke</button></td>') == 2  # an actions cell needs no label
    assert '<th scope="col" class="num">Credits &amp; USD</th>' in html  # the headings stay as they were


def test_a_table_with_a_phone_layout_of_its_own_opts_out():
    html = _render(WIDE.replace("class='keys-table'", "class='team-table' stack=False"), rows=["CI key"])
    assert '<table class="team-table">' in html and "data-label" not in html
