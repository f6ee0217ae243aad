"""The engine's CEL parser (engine/cel_parse.py) against the binding that evaluates conditions.

The checks made before a condition runs (nesting, cost) read the engine's tree, so the two parsers must
agree: on what parses, on the names and functions an expression uses, and on precedence (an expression
and its fully parenthesised rendering from the engine's tree evaluate alike in the binding).
"""

from __future__ import annotations

import cel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import cel_parse as p

OPERATORS = frozenset({
    "_+_", "_-_", "_*_", "_/_", "_%_", "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in", "_&&_", "_||_",
    "!_", "-_", "_[_]", "_?_:_", "@not_strictly_false",
})


def binding_accepts(source: str) -> bool:
    try:
        cel.compile(source)
    except Exception:  # the binding raises ValueError, and others for its own limits
        return False
    return True


def engine_accepts(source: str) -> bool:
    try:
        p.parse(source)
    except p.ParseError:
        return False
    return True


def assert_agree(source: str) -> None:
    engine = engine_accepts(source)
    assert engine == binding_accepts(source), (
        f"{source!r}: the binding {'refuses' if engine else 'accepts'} it, the engine's parser does not"
        + ("" if engine else f" ({_why(source)})"))
    if engine:
        program = cel.compile(source)
        tree = p.parse(source)
        assert names(tree) == set(program.variables()), source
        assert functions(tree) == {f for f in program.functions() if f not in OPERATORS}, source


def _why(source: str) -> str:
    try:
        p.parse(source)
    except p.ParseError as error:
        return f"{error} at offset {error.offset}"
    return ""


def walk(node: p.Node):
    stack = [node]  # not recursive: 'a.b.c...' is a thousand selections deep
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in p.children(node) if child is not None)


def names(tree: p.Node) -> set[str]:
    # The binding expands filter(v, ...) into code that reads v, whether the predicate does or not.
    return ({n.name for n in walk(tree) if isinstance(n, p.Name)}
            | {n.variable for n in walk(tree) if isinstance(n, p.Comprehension) and n.macro == "filter"})


def functions(tree: p.Node) -> set[str]:
    return {n.function for n in walk(tree) if isinstance(n, p.Call)}


def render(node: p.Node) -> str:
    """``node`` as CEL source with every operation in parentheses."""
    if isinstance(node, p.Literal):
        return {"bool": lambda v: "true" if v else "false", "null": lambda v: "null",
                "uint": lambda v: f"{v}u", "string": lambda v: _string(v),
                "bytes": lambda v: "b" + _string(v.decode("latin-1"))}.get(node.kind, repr)(node.value)
    if isinstance(node, p.Name):
        return node.name
    if isinstance(node, p.Select):
        inner = f"({render(node.operand)}).{node.field}"
        return f"has({inner})" if node.test else inner
    if isinstance(node, p.Index):
        return f"({render(node.operand)})[{render(node.key)}]"
    if isinstance(node, p.Call):
        args = ", ".join(render(a) for a in node.args)
        return f"({render(node.target)}).{node.function}({args})" if node.target else f"{node.function}({args})"
    if isinstance(node, p.Comprehension):
        args = ", ".join(render(a) for a in node.args)
        return f"({render(node.range)}).{node.macro}({node.variable}, {args})"
    if isinstance(node, p.Unary):
        return f"{node.op * node.times}({render(node.operand)})"
    if isinstance(node, p.Chain):
        text = render(node.first)
        for op, operand in zip(node.ops, node.rest, strict=True):
            text = f"({text} {op} ({render(operand)}))"
        return text
    if isinstance(node, p.Conditional):
        return f"(({render(node.condition)}) ? ({render(node.then)}) : ({render(node.otherwise)}))"
    if isinstance(node, p.ListLiteral):
        return "[" + ", ".join(render(i) for i in node.items) + "]"
    if isinstance(node, p.MapLiteral):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in node.entries) + "}"
    return node.type_name + "{" + ", ".join(f"{f}: {render(v)}" for f, v in node.fields) + "}"


def _string(text: str) -> str:
    return '"' + "".join(c if c.isalnum() or c in " ._-" else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else
                         f"\\U{ord(c):08x}" for c in text) + '"'


# -- cases found by hand -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    # literals
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "- 9223372036854775808", "--9223372036854775808", "18446744073709551615u", "18446744073709551616u",
    "0xFFFFFFFFFFFFFFFF", "0x7FFFFFFFFFFFFFFF", "0xFFFFFFFFFFFFFFFFu", "-0x8000000000000000", "0x", "1u2",
    "1e400", "-1e400", "1e-400", ".5", "5.", "1.e3", "1..2", "1.2.3", "0X1F", "0.5u", "-1u", "007", "1_000",
    # strings and bytes
    r'"\z"', r'"\400"', r'"\377"', r'"\x4"', r'"\X41"', r'"\u00e9"', r'"\U0001F600"', r'"\U00110000"',
    r'"\ud800"', r"b'\xff'", r"b'\u00e9'", r"b'\U00000041'", "'''a''b'''", r"r'''a\'''", 'R"x"', 'B"x"',
    'bR"x"', 'Rb"x"', 'rb"x"', "br'x'", r'r"\""', '"a\nb"', '"""a\nb"""', "r'a\rb'", '"""a""""', '"""\\""""',
    r'"""a\""""', r'"""\z"""', r'r"""\z"""', '"é"', "é", "'//' == x", "x == '/* no */'",
    # comments and whitespace
    "1 // c", "// c\n1", "// only", "", " ", "1\r+\f2", "1\v+2", "l.exists // c\n (x, x > 0)",
    "l.exists /* c */ (x, x > 0)",
    # operators
    "!-1", "!-a", "-!a", "!!-1", "--1", "- -a", "1--2", "1---2", "a ! = b", "a =! b", "a & b", "a | b",
    "1 < 2 < 3", "a in b in c", "a ? b : c ? d : e", "a ? b ? c : d : e", "a || b ? c : d", "in a", "a in",
    # members, calls, messages
    "a.b.c", "a.true", "a.in", "a.as", "x.if", "if.x", "as.b", ".as", "a.if(1)", "if(1)", "1.size()",
    "f(1,)", "a[1,]", "x[]", "f(a)(b)", "a[0](b)", "a.(b)", "a.`b`", "`a`", ".a.b", "(.a).b", ".size(x)",
    "A{b: 1}", "A{as: 1}", "A{in: 1}", "a.b{c: 1}", ".a{c: 1}", "f(x){}", "a.b(){}", "A{}", "A{,}", "A{b: 1,}",
    "as{}", "x.y{z: 1}.w", "{1: 2}{}", "[,]", "{,}", "[1,,]", "[1,]", "{a: 1}", "(1, 2)", "()",
    # optional syntax, unsupported
    "a.?b", "a[?0]", "[?a]", "{?1: 2}", "A{?b: 1}", "a.b?.c",
    # macros
    "has(a)", "has(a.b)", "has(a[0])", "has(a.b())", "has(.a.b)", "has(.a)", "has(a.b, c)", "has()",
    "has(has(a.b))", "has((a.b))", "a.has(b.c)", "x.all(1, 2)", "x.exists(a.b, c)", "x.exists(.y, .y)",
    "x.exists((y), y)", "x.exists(as, true)", "exists(a, b)", "x.exists(a, b, c)", "x.map(y)", "x.map(y, 1, 2, 3)",
    "x.map(y, y > 0, y)", "x.filter(y, true, 1)", "x.existsOne(y, y)", "x.exists_one(y, y, z)",
    "x.all(i, v, v > 0)", "x.exists(y, true)(1)", "[1].exists(y, true)", "1.exists(y, true)",
    # nesting at the binding's limit
    "(" * 95 + "1" + ")" * 95, "(" * 96 + "1" + ")" * 96, "[" * 96 + "]" * 96, "[" * 97 + "]" * 97,
    "a ? b : " * 95 + "c", "a ? b : " * 96 + "c", "f(" * 96 + ")" * 96, "{1:" * 95 + "1" + "}" * 95,
    "{1:" * 96 + "1" + "}" * 96, "a" + "[b" * 95 + "]" * 95, "a" + "[b" * 96 + "]" * 96,
    # long flat chains
    "!" * 3000 + "a", "a" + ".b" * 1500, "a" + "[0]" * 1000, " + ".join(["1"] * 1000),
])
def test_the_engine_parses_what_the_binding_compiles(source: str) -> None:
    assert_agree(source)


def test_a_long_chain_is_one_flat_node() -> None:
    tree = p.parse(" + ".join(["a"] * 1000))
    assert isinstance(tree, p.Chain) and len(tree.rest) == 999


def test_a_comprehension_records_its_macro_variable_and_position() -> None:
    tree = p.parse("items.exists /* */ (i, i > 0)".replace("/* */", "// note\n"))
    assert isinstance(tree, p.Comprehension)
    assert (tree.macro, tree.variable, tree.at) == ("exists", "i", 6)
    assert tree.range == p.Name("items", 0)


def test_string_literals_are_decoded_as_cel_decodes_them() -> None:
    for source in (r"'a\tb\x41\101\u00e9'", r"r'a\tb'", "'''x''x'''", r"b'\xff\101é'", r'"""\""""'):
        tree = p.parse(source)
        assert isinstance(tree, p.Literal)
        assert tree.value == cel.compile(source).execute({}), source


# -- fuzzing ---------------------------------------------------------------------------------------

SEPARATORS = st.sampled_from([" ", " ", " ", "", "\n", "\t", "\r\n", "\f", " // note\n", "//x\n", "  "])
_VARIABLES = ["a", "b", "x", "items", "_y", "as", "if", "in", "true", "null", "int"]
_STRINGS = ["'a'", '"b"', "''", "'''t'''", '"""u"""', "r'\\d'", "R\"x\"", "b'z'", "br'\\x'", "'\\n'",
            "'\\x41'", "'\\u00e9'", "'\\ud800'", "'\\z'", "'\\101'", "'\\400'", "'é'", "'//'", "'\"'", '"\'"',
            "'a\nb'", "'''a\nb'''", "\"\"\"a\"b\"\"\"", "b'\\u0041'"]
_NUMBERS = ["0", "1", "42", "1u", "0x1F", "0x1Fu", "1.5", ".5", "1e3", "2.5e-3", "9223372036854775807",
            "9223372036854775808", "18446744073709551615u", "18446744073709551616u", "1e400", "007"]

atoms = st.one_of(
    st.sampled_from(_VARIABLES).map(lambda v: [v]),
    st.sampled_from(_NUMBERS).map(lambda n: [n]),
    st.sampled_from(_NUMBERS).map(lambda n: ["-", n]),
    st.sampled_from(_STRINGS).map(lambda s: [s]),
    st.sampled_from(["true", "false", "null", "[]", "{}", "[,]", "A{}"]).map(lambda s: [s]),
    st.sampled_from(["?", ")", "(", ".", ",", "]", "=", "&", "`b`", "#"]).map(lambda s: [s]),  # rarely: noise
)


def _joined(parts: list[list[str]], separator: str) -> list[str]:
    out: list[str] = []
    for i, part in enumerate(parts):
        if i:
            out.append(separator)
        out.extend(part)
    return out


def _extend(inner: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    binary_op = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "in", "&&", "||"])
    macro = st.sampled_from(["all", "exists", "exists_one", "existsOne", "map", "filter", "has", "size", "f"])
    variable = st.sampled_from(["v", "x", "(w)", "1", "a.b", "as"])
    args = st.lists(inner, max_size=3)
    return st.one_of(
        st.tuples(inner, binary_op, inner).map(lambda t: [*t[0], t[1], *t[2]]),
        st.tuples(st.sampled_from(["!", "-", "!!", "--", "!-"]), inner).map(lambda t: [t[0], *t[1]]),
        st.tuples(inner, inner, inner).map(lambda t: [*t[0], "?", *t[1], ":", *t[2]]),
        inner.map(lambda t: ["(", *t, ")"]),
        st.tuples(inner, st.sampled_from(["b", "exists", "as", "true", "0"])).map(lambda t: [*t[0], ".", t[1]]),
        st.tuples(inner, inner).map(lambda t: [*t[0], "[", *t[1], "]"]),
        st.tuples(inner, macro, variable, args).map(
            lambda t: [*t[0], ".", t[1], "(", *_joined([[t[2]], *t[3]], ","), ")"]),
        st.tuples(macro, args).map(lambda t: [t[0], "(", *_joined(t[1], ","), ")"]),
        st.tuples(args, st.booleans()).map(lambda t: ["[", *_joined(t[0], ","), *([","] if t[1] else []), "]"]),
        st.tuples(st.lists(st.tuples(inner, inner), max_size=2), st.booleans()).map(
            lambda t: ["{", *_joined([[*k, ":", *v] for k, v in t[0]], ","), *([","] if t[1] else []), "}"]),
        st.tuples(st.sampled_from(["A", "a.B", ".C"]), st.lists(inner, max_size=2)).map(
            lambda t: [t[0], "{", *_joined([["f", ":", *v] for v in t[1]], ","), "}"]),
    )


token_lists = st.recursive(atoms, _extend, max_leaves=12)


@st.composite
def expressions(draw) -> str:
    tokens = draw(token_lists)
    text = []
    for i, token in enumerate(tokens):
        if i:
            text.append(draw(SEPARATORS))
        text.append(token)
    return draw(st.sampled_from(["", " ", "\n", "// lead\n"])) + "".join(text) + draw(
        st.sampled_from(["", " ", "\n", " // trail"]))


@st.composite
def mutated(draw) -> str:
    source = draw(expressions())
    at = draw(st.integers(0, len(source)))
    edit = draw(st.sampled_from(["delete", "insert", "duplicate"]))
    if edit == "delete":
        return source[:at] + source[at + 1:]
    if edit == "duplicate":
        return source[:at] + source[at:at + 3] + source[at:]
    return source[:at] + draw(st.sampled_from(list("()[]{}.,?:!-+*/%<>='\"\\`\n /urbx0e"))) + source[at:]


FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(expressions())
def test_fuzz_the_engine_and_the_binding_accept_the_same_expressions(source: str) -> None:
    assert_agree(source)


@FUZZ
@given(mutated())
def test_fuzz_the_engine_and_the_binding_refuse_the_same_broken_expressions(source: str) -> None:
    assert_agree(source)


# Precedence: values the binding can compute with, so that a wrong grouping shows as a different result.
_INTS = ["a", "b", "1", "2", "3", "-1", "(0)"]


def _arithmetic(inner):
    op = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", ">=", "&&", "||", "in"])
    return st.one_of(
        st.tuples(inner, op, inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(st.sampled_from(["!", "-", "--"]), inner).map(lambda t: t[0] + t[1]),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
        inner.map(lambda t: f"({t})"),
        st.lists(inner, max_size=3).map(lambda t: "[" + ", ".join(t) + "]"),
        st.tuples(inner, inner).map(lambda t: f"[{t[0]}, {t[1]}][{t[1]}]"),
    )


@FUZZ
@given(st.recursive(st.sampled_from(_INTS + ["true", "false"]), _arithmetic, max_leaves=8),
       st.integers(-3, 3), st.integers(-3, 3))
def test_fuzz_the_engine_groups_operators_as_the_binding_does(source: str, a: int, b: int) -> None:
    if not engine_accepts(source):
        return
    rendered = render(p.parse(source))
    assert _outcome(source, a, b) == _outcome(rendered, a, b), f"{source!r} read as {rendered!r}"


def _outcome(source: str, a: int, b: int):
    try:
        return ("value", cel.compile(source).execute({"a": a, "b": b}))
    except Exception:  # an evaluation error (a type mismatch, division by zero) is an outcome too
        return ("error",)
