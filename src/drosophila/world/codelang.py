"""A tiny programming language written in world text: tokens, grammar and parser.

A program is world text: lower-case tokens separated by single spaces, each punctuation mark a
token of its own. Statements are separated by ``;``; a compound statement (``def``, ``if``,
``while``, ``for``) ends at its ``end`` or, when ``end`` is left out, at the end of the program::

    def f ( x ) : return x + 3
    def f ( x ) : if x < 0 : return 0 - x end ; return x
    def f ( xs ) : t = 0 ; for v in xs : t = t + v end ; return t
    def f ( a , b ) : if a > b : return a else : return b end

Grammar (``{ }`` repeats, ``[ ]`` is optional)::

    program  := block
    block    := [ stmt ] { ";" [ stmt ] }                  (up to "end", "else" or the end)
    stmt     := "def" NAME "(" [ NAME { "," NAME } ] ")" ":" block [ "end" ]
              | "if" expr ":" block [ "else" ":" block ] [ "end" ]
              | "while" expr ":" block [ "end" ] | "for" NAME "in" expr ":" block [ "end" ]
              | "return" expr | "assert" expr | target "=" expr | expr
    target   := NAME | postfix "." NAME
    expr     := and { "or" and } ;   and := not { "and" not } ;   not := "not" not | compare
    compare  := sum [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) sum ]
    sum      := term { ( "+" | "-" ) term } ;   term := unary { ( "*" | "//" | "%" ) unary }
    unary    := "-" unary | postfix ;   postfix := atom { "(" args ")" | "[" expr "]" | "." NAME }
    atom     := INT | "true" | "false" | "word" ANY | NAME | "(" expr ")"
              | "[" [ expr { "," expr } ] "]"

``word`` quotes the one token after it, whatever it is, as a word value: ``word poison``,
``word 777``, ``word +`` and ``word word`` are the words ``poison``, ``777``, ``+`` and ``word``.

A dangling ``else`` belongs to the innermost open ``if``. Parsing never evaluates anything: the
text becomes a tree of the dataclasses below, which :mod:`drosophila.world.codelang_run` walks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS = frozenset(
    "def if else while for in return assert end and or not true false word".split())
SYMBOLS = frozenset("( ) [ ] , : ; . = == != < <= > >= + - * // %".split())
COMPARE = frozenset("== != < <= > >=".split())
MAX_DEPTH = 40        # nesting of blocks and expressions a parse accepts
MAX_DIGITS = 12       # longest integer literal
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class LangError(Exception):
    """A malformed or failing program; the message is one line naming what went wrong."""


class ParseError(LangError):
    """The text is not a program of the language."""


# -- the tree ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Const:
    value: int | bool | str      # a str is a quoted word


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class ListLit:
    items: tuple


@dataclass(frozen=True)
class Unary:
    op: str            # "-" or "not"
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str            # arithmetic, comparison, "and", "or"
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    func: object
    args: tuple


@dataclass(frozen=True)
class Index:
    target: object
    index: object


@dataclass(frozen=True)
class Attr:
    target: object
    name: str


@dataclass(frozen=True)
class Def:
    name: str
    params: tuple[str, ...]
    body: tuple


@dataclass(frozen=True)
class If:
    cond: object
    then: tuple
    other: tuple


@dataclass(frozen=True)
class While:
    cond: object
    body: tuple


@dataclass(frozen=True)
class For:
    var: str
    iterable: object
    body: tuple


@dataclass(frozen=True)
class Return:
    value: object


@dataclass(frozen=True)
class Assert:
    test: object


@dataclass(frozen=True)
class Assign:
    target: object     # Name or Attr
    value: object


@dataclass(frozen=True)
class ExprStmt:
    expr: object


# -- the parser ----------------------------------------------------------------------------------
def parse(text: str) -> tuple:
    """The statements of ``text``.

    Raises:
        ParseError: the text is not a program (unknown token, bad syntax, nesting too deep).
    """
    try:
        return _Parser(text.split()).program()
    except RecursionError:  # called from an already deep Python stack
        raise ParseError("program nested too deep") from None


def is_int_token(tok: str) -> bool:
    return 0 < len(tok) <= MAX_DIGITS and all(c in "0123456789" for c in tok)


def check_token(tok: str) -> None:
    if tok in SYMBOLS or tok in KEYWORDS or is_int_token(tok) or _NAME.fullmatch(tok):
        return
    raise ParseError(f"unknown token {tok}")


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        quoted = False  # the token after ``word`` is a literal and may be any token
        for tok in tokens:
            if not quoted:
                check_token(tok)
            quoted = not quoted and tok == "word"
        self.toks = tokens
        self.i = 0
        self.depth = 0
        self.in_def = 0

    # -- token helpers
    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ParseError("unexpected end of program")
        self.i += 1
        return tok

    def expect(self, tok: str) -> None:
        got = self.peek()
        if got != tok:
            raise ParseError(f"expected {tok} but found {got or 'the end'}")
        self.i += 1

    def name(self) -> str:
        tok = self.take()
        if tok in KEYWORDS or tok in SYMBOLS or is_int_token(tok):
            raise ParseError(f"expected a name but found {tok}")
        return tok

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("program nested too deep")

    # -- statements
    def program(self) -> tuple:
        body = self.block()
        if self.peek() is not None:
            raise ParseError(f"{self.peek()} without an open block")
        return body

    def block(self, stops: frozenset = frozenset()) -> tuple:
        stmts = []
        while True:
            tok = self.peek()
            if tok == ";":
                self.i += 1
                continue
            if tok is None or tok == "end" or tok in stops:
                return tuple(stmts)
            stmts.append(self.statement())
            tok = self.peek()
            if tok not in (None, ";", "end") and tok not in stops:
                raise ParseError(f"expected ; but found {tok}")

    def close(self) -> None:
        if self.peek() == "end":
            self.i += 1
        self.depth -= 1

    def statement(self):
        tok = self.peek()
        if tok in ("def", "if", "while", "for"):
            self.nest()
            self.i += 1
            compound = {"def": self.stmt_def, "if": self.stmt_if, "while": self.stmt_while,
                        "for": self.stmt_for}
            return compound[tok]()
        if tok == "return":
            self.i += 1
            if not self.in_def:
                raise ParseError("return outside a function")
            return Return(self.expr())
        if tok == "assert":
            self.i += 1
            return Assert(self.expr())
        target = self.expr()
        if self.peek() != "=":
            return ExprStmt(target)
        self.i += 1
        if not isinstance(target, (Name, Attr)):
            raise ParseError("can only assign to a name or a field")
        return Assign(target, self.expr())

    def stmt_def(self) -> Def:
        name = self.name()
        self.expect("(")
        params = []
        while self.peek() != ")":
            if params:
                self.expect(",")
            params.append(self.name())
        self.i += 1
        self.expect(":")
        self.in_def += 1
        body = self.block()
        self.in_def -= 1
        self.close()
        return Def(name, tuple(params), body)

    def stmt_if(self) -> If:
        cond = self.expr()
        self.expect(":")
        then = self.block(frozenset({"else"}))
        other: tuple = ()
        if self.peek() == "else":
            self.i += 1
            self.expect(":")
            other = self.block()
        self.close()
        return If(cond, then, other)

    def stmt_while(self) -> While:
        cond = self.expr()
        self.expect(":")
        body = self.block()
        self.close()
        return While(cond, body)

    def stmt_for(self) -> For:
        var = self.name()
        self.expect("in")
        iterable = self.expr()
        self.expect(":")
        body = self.block()
        self.close()
        return For(var, iterable, body)

    # -- expressions, loosest binding first
    def expr(self):
        self.nest()
        node = self.binary_chain(("or",), self.and_expr)
        self.depth -= 1
        return node

    def binary_chain(self, ops: tuple[str, ...], operand):
        node = operand()
        while self.peek() in ops:
            op = self.take()
            node = Binary(op, node, operand())
        return node

    def and_expr(self):
        return self.binary_chain(("and",), self.not_expr)

    def not_expr(self):
        if self.peek() == "not":
            self.i += 1
            self.nest()
            node = Unary("not", self.not_expr())
            self.depth -= 1
            return node
        return self.compare()

    def compare(self):
        node = self.sum()
        if self.peek() in COMPARE:
            op = self.take()
            node = Binary(op, node, self.sum())
        return node

    def sum(self):
        return self.binary_chain(("+", "-"), self.term)

    def term(self):
        return self.binary_chain(("*", "//", "%"), self.unary)

    def unary(self):
        if self.peek() == "-":
            self.i += 1
            self.nest()
            node = Unary("-", self.unary())
            self.depth -= 1
            return node
        return self.postfix()

    def postfix(self):
        node = self.atom()
        while self.peek() in ("(", "[", "."):
            tok = self.take()
            if tok == "(":
                node = Call(node, self.items(")"))
            elif tok == "[":
                node = Index(node, self.expr())
                self.expect("]")
            else:
                node = Attr(node, self.name())
        return node

    def items(self, closer: str) -> tuple:
        items = []
        while self.peek() != closer:
            if items:
                self.expect(",")
            items.append(self.expr())
        self.i += 1
        return tuple(items)

    def atom(self):
        tok = self.take()
        if is_int_token(tok):
            return Const(int(tok))
        if tok in ("true", "false"):
            return Const(tok == "true")
        if tok == "word":
            return Const(self.take())
        if tok == "(":
            node = self.expr()
            self.expect(")")
            return node
        if tok == "[":
            return ListLit(self.items("]"))
        self.i -= 1
        return Name(self.name())
