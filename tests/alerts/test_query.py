"""The watchlist expression parser."""

from __future__ import annotations

import pytest

from alerts import query
from alerts.query import (
    And,
    Field,
    Group,
    Near,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    parse,
    referenced_groups,
)

GROUPS = {"taiwan", "mou", "licensing", "us", "trade-policy"}


def test_example_expression() -> None:
    expr = parse("taiwan AND (mou OR licensing) AND us", GROUPS)
    assert expr == And((Group("taiwan"), Or((Group("mou"), Group("licensing"))), Group("us")))


def test_precedence_near_not_and_or() -> None:
    expr = parse("NOT taiwan AND mou OR us NEAR/3 licensing", GROUPS)
    assert expr == Or(
        (
            And((Not(Group("taiwan")), Group("mou"))),
            Near(Group("us"), Group("licensing"), 3),
        )
    )
    # NEAR binds tighter than NOT, as the module docstring states
    assert parse("NOT us NEAR/3 licensing", GROUPS) == Not(Near(Group("us"), Group("licensing"), 3))
    assert "NEAR > NOT > AND > OR" in " ".join((query.__doc__ or "").split())


def test_keywords_are_case_insensitive() -> None:
    assert parse("taiwan and not mou or us", GROUPS) == parse("taiwan AND NOT mou OR us", GROUPS)
    assert parse("taiwan near/2 us", GROUPS) == Near(Group("taiwan"), Group("us"), 2)


def test_phrases_with_escapes_and_cjk() -> None:
    expr = parse(r'"patent licensing" OR "合作備忘錄" OR "say \"hi\" \\ ok"', GROUPS)
    assert expr == Or((Phrase("patent licensing"), Phrase("合作備忘錄"), Phrase('say "hi" \\ ok')))


def test_field_scopes() -> None:
    expr = parse('title:taiwan AND body:(mou OR "patent licensing") OR summary:"x"', GROUPS)
    assert expr == Or(
        (
            And(
                (
                    Field("title", Group("taiwan")),
                    Field("body", Or((Group("mou"), Phrase("patent licensing")))),
                )
            ),
            Field("summary", Phrase("x")),
        )
    )
    assert parse("TITLE: taiwan", GROUPS) == Field("title", Group("taiwan"))


def test_group_names_with_dash_and_case_fallback() -> None:
    assert parse("trade-policy", GROUPS) == Group("trade-policy")
    assert parse("Taiwan", GROUPS) == Group("taiwan")


def test_round_trip_through_str() -> None:
    text = 'NOT (taiwan OR title:"a \\"b\\"") AND (mou NEAR/4 body:(us OR licensing))'
    expr = parse(text, GROUPS)
    assert parse(str(expr), GROUPS) == expr


def test_referenced_groups() -> None:
    expr = parse('taiwan AND NOT (mou NEAR/2 "x") OR title:us', GROUPS)
    assert referenced_groups(expr) == {"taiwan", "mou", "us"}


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("taiwn AND mou", 0, "did you mean 'taiwan'"),
        ("taiwan AND moo", 11, "did you mean 'mou'"),
        ("taiwan AND title:recipe", 17, 'quote it: "recipe"'),
        ("(taiwan AND mou", 0, "unclosed '('"),
        ("taiwan AND mou)", 14, "unmatched ')'"),
        ("((taiwan) AND mou", 0, "unclosed '('"),
        ("taiwan AND", 7, "'AND' needs an operand after it"),
        ("taiwan OR", 7, "'OR' needs an operand after it"),
        ("AND taiwan", 0, "'AND' needs an operand before it"),
        ("taiwan AND OR mou", 7, "'AND' needs an operand after it"),
        ("NOT", 0, "'NOT' needs an operand after it"),
        ("taiwan NEAR us", 7, "NEAR needs a distance"),
        ("taiwan NEAR/ us", 7, "NEAR needs a distance"),
        ("taiwan NEAR/x us", 7, "NEAR needs a distance"),
        ("taiwan mou", 7, "not implicitly ANDed"),
        ('taiwan "x"', 7, "not implicitly ANDed"),
        ("", 0, "empty expression"),
        ("   ", 0, "empty expression"),
        ("()", 0, "empty parentheses"),
        ('taiwan AND "unterminated', 11, "unterminated phrase"),
        ('taiwan AND ""', 11, "empty phrase"),
        ("taiwan && mou", 7, "use AND"),
        ("taiwan AND -mou", 11, "write NOT mou"),
        ("url:taiwan", 0, "unknown field 'url'"),
        ("title:(body:taiwan)", 7, "cannot be nested"),
        ("title:title:taiwan", 6, "cannot be nested"),
        ("title:NOT taiwan", 0, "needs a group, phrase or (...)"),
        ("(taiwan AND mou) NEAR/3 us", 0, "NEAR operands"),
        ("taiwan NEAR/3 (us AND mou)", 14, "NEAR operands"),
        ("taiwan NEAR/3 us NEAR/3 mou", 17, "cannot be chained"),
        ("taiwan NEAR/3 NOT us", 14, "NEAR operands"),
        ("(taiwan mou)", 8, "expected AND, OR or ')'"),
        ("(" * 200 + "taiwan" + ")" * 200, 64, "nested too deeply (more than 64 levels"),
        ("NOT " * 65 + "taiwan", 256, "nested too deeply"),
        ("NOT (" * 33 + "mou" + ")" * 33, 160, "nested too deeply"),
        ("taiwan OR " * 2000 + "mou", 0, "expression too long (20003 characters; at most 20000)"),
    ],
)
def test_syntax_errors(text: str, position: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text, GROUPS)
    assert info.value.position == position, info.value
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_group_lists_groups_when_nothing_is_close() -> None:
    with pytest.raises(QuerySyntaxError, match="groups: licensing, mou"):
        parse("zzzzzz", GROUPS)
    with pytest.raises(QuerySyntaxError, match="none defined"):
        parse("zzzzzz", [])


def test_nesting_up_to_the_limit_parses() -> None:
    expr = parse("(" * 64 + "taiwan" + ")" * 64, GROUPS)
    assert expr == Group("taiwan")
    assert parse("NOT " * 32 + "(" * 32 + "mou" + ")" * 32, GROUPS) is not None
