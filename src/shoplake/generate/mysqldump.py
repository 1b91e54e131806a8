"""Read a ClassicModels MySQL dump into typed rows, checked against shoplake's schema."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from shoplake.errors import SourceDumpError
from shoplake.generate.schema import CLASSICMODELS_TABLES, metadata

if TYPE_CHECKING:
    from sqlalchemy import Column

#: Typed rows per table name, in dump order.
Rows = dict[str, list[dict[str, Any]]]

#: An integer literal, as the dump and the ratings CSV write one.
INTEGER = re.compile(r"[+-]?\d+")

_LEXER = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>/\*.*?\*/ | --(?=\s|$)[^\n]* | \#[^\n]*)
    | (?P<open_comment>/\*)
    | (?P<string>'(?:[^'\\]++|\\.|'')*+' | "(?:[^"\\]++|\\.|"")*+")
    | (?P<ident>`(?:[^`]|``)*+`)
    | (?P<hex>0[xX][0-9A-Fa-f]+\b | [xX]'[0-9A-Fa-f]*')
    | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
    | (?P<unclosed>['"`])
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = {"'": re.compile(r"\\(.)|''", re.DOTALL), '"': re.compile(r'\\(.)|""', re.DOTALL)}
# MySQL keeps the backslash of \% and \_ (they only matter in LIKE patterns).
_ESCAPES = {
    "0": "\0",
    "b": "\b",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "Z": "\x1a",
    "%": "\\%",
    "_": "\\_",
}
_KEY_DEFINITIONS = frozenset(
    {"PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL", "CHECK"}
)
_IGNORED_STATEMENTS = frozenset(
    {"SET", "DROP", "USE", "LOCK", "UNLOCK", "START", "BEGIN", "COMMIT"}
)
_INT_BITS = {"SmallInteger": 16, "Integer": 32, "BigInteger": 64}


class _Tok(NamedTuple):
    kind: str
    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Spec:
    """What a schema column accepts."""

    name: str
    kind: type
    nullable: bool
    length: int | None
    precision: int | None
    scale: int | None
    bits: int


def _spec(column: Column[Any]) -> _Spec:
    kind = column.type.python_type
    return _Spec(
        name=column.name,
        kind=kind,
        nullable=bool(column.nullable),
        length=getattr(column.type, "length", None) if kind is str else None,
        precision=getattr(column.type, "precision", None),
        scale=getattr(column.type, "scale", None),
        bits=_INT_BITS.get(type(column.type).__name__, 64),
    )


_SPECS = {
    name: {c.name: _spec(c) for c in metadata.tables[name].columns} for name in CLASSICMODELS_TABLES
}


def _tokenize(text: str) -> list[_Tok]:
    """Tokens without whitespace and comments; stops after an unterminated quote or comment."""
    tokens: list[_Tok] = []
    match, pos, end = _LEXER.match, 0, len(text)
    while pos < end:
        m = match(text, pos)
        assert m is not None and m.lastgroup is not None  # the last alternative matches anything
        kind = m.lastgroup
        if kind not in ("space", "comment"):
            tokens.append(_Tok(kind, m.group(), pos))
            if kind in ("unclosed", "open_comment"):
                break
        pos = m.end()
    return tokens


def _unescape(literal: str) -> str:
    quote, body = literal[0], literal[1:-1]
    if "\\" not in body and quote * 2 not in body:
        return body
    return _UNESCAPE[quote].sub(lambda m: _ESCAPES.get(m[1], m[1]) if m[1] else quote, body)


def _identifier(tok: _Tok) -> str:
    return tok.text[1:-1].replace("``", "`") if tok.kind == "ident" else tok.text


class _Statement:
    """One statement's tokens with a cursor; errors name the file, line and statement."""

    def __init__(self, reader: _DumpReader, tokens: list[_Tok], end: int, terminated: bool):
        self.reader, self.tokens, self.end, self.terminated = reader, tokens, end, terminated
        self.i = 0
        self.context = ""  # the statement, e.g. INSERT into `customers`
        self.detail = ""  # where in it, e.g. row 3, column `city`

    def error(self, pos: int, message: str) -> SourceDumpError:
        where = ": ".join(part for part in (self.context, self.detail, message) if part)
        return self.reader.error(self.reader.line(pos), where)

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, expected: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            got = "';'" if self.terminated else "the end of the file (truncated dump?)"
            raise self.error(self.end, f"expected {expected}, got {got}")
        if tok.kind == "unclosed":
            raise self.error(tok.pos, f"unterminated {tok.text} quote (truncated dump?)")
        if tok.kind == "open_comment":
            raise self.error(tok.pos, "unterminated /* comment (truncated dump?)")
        self.i += 1
        return tok

    def accept(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.upper() == word:
            self.i += 1
            return True
        return False

    def punct(self, char: str, expected: str | None = None) -> bool:
        """Consume ``char`` if next; when ``expected`` is given, anything else is an error."""
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == char:
            self.i += 1
            return True
        if expected is not None:
            got = self.next(expected)
            raise self.error(got.pos, f"expected {expected}, got {got.text[:40]!r}")
        return False

    def name(self) -> _Tok:
        """A possibly qualified name (`db`.`table`); returns its last part."""
        tok = self.next("a name")
        while self.punct("."):
            tok = self.next("a name")
        if tok.kind not in ("ident", "word"):
            raise self.error(tok.pos, f"expected a name, got {tok.text[:40]!r}")
        return tok


class _DumpReader:
    """Parses a ClassicModels MySQL dump into typed rows, checking it against the schema."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.columns: dict[str, list[str]] = {}
        self.declared_at: dict[str, int] = {}
        self.rows: Rows = {name: [] for name in CLASSICMODELS_TABLES}
        self.lines: dict[str, list[int]] = {name: [] for name in CLASSICMODELS_TABLES}
        self.keys: dict[str, dict[tuple[Any, ...], int]] = {n: {} for n in CLASSICMODELS_TABLES}

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.newlines, pos - 1) + 1

    def error(self, line: int, message: str) -> SourceDumpError:
        return SourceDumpError(f"{self.path}:{line}: {message}")

    def read(self) -> Rows:
        tokens = _tokenize(self.text)
        start = 0
        for i, tok in enumerate(tokens):
            if tok.kind == "punct" and tok.text == ";":
                if i > start:
                    self._statement(_Statement(self, tokens[start:i], tok.pos, terminated=True))
                start = i + 1
        if start < len(tokens):
            rest = tokens[start:]
            self._statement(_Statement(self, rest, rest[-1].pos, terminated=False))
            raise self.error(
                self.line(tokens[start].pos), "statement has no closing ';' (truncated dump?)"
            )
        for name in CLASSICMODELS_TABLES:
            if name not in self.columns:
                raise SourceDumpError(
                    f"{self.path}: no CREATE TABLE `{name}` (a ClassicModels dump declares "
                    f"{', '.join(CLASSICMODELS_TABLES)})"
                )
        self._check_foreign_keys()
        return self.rows

    def _statement(self, st: _Statement) -> None:
        first = st.next("a statement")
        keyword = first.text.upper() if first.kind == "word" else ""
        if keyword == "CREATE":
            st.accept("TEMPORARY")
            if st.accept("TABLE"):
                self._create_table(st)
        elif keyword == "INSERT":
            self._insert(st)
        elif keyword == "ALTER" and st.tokens[-1].text.upper() == "KEYS":
            pass  # ALTER TABLE t DISABLE/ENABLE KEYS
        elif keyword not in _IGNORED_STATEMENTS:
            raise st.error(first.pos, f"unsupported statement {first.text[:40]!r}")

    def _table(self, st: _Statement, tok: _Tok) -> str:
        name = _identifier(tok)
        if name not in _SPECS:
            raise st.error(
                tok.pos,
                f"unknown table `{name}` (shoplake's ClassicModels schema has "
                f"{', '.join(CLASSICMODELS_TABLES)})",
            )
        return name

    def _column(self, st: _Statement, table: str, tok: _Tok) -> str:
        name = _identifier(tok)
        if name not in _SPECS[table]:
            near = [c for c in _SPECS[table] if c.lower() == name.lower()]
            hint = f"; did you mean `{near[0]}`?" if near else ""
            raise st.error(tok.pos, f"unknown column `{table}`.`{name}` (not in the schema{hint})")
        return name

    def _create_table(self, st: _Statement) -> None:
        if st.accept("IF"):
            st.accept("NOT")
            st.accept("EXISTS")
        table = self._table(st, st.name())
        st.context = f"CREATE TABLE `{table}`"
        if table in self.columns:
            raise st.error(st.tokens[0].pos, "table declared twice")
        st.punct("(", "'('")
        columns: list[str] = []
        closed = False
        while not closed:
            first = st.next("a column definition")
            if first.kind == "ident" or (
                first.kind == "word" and first.text.upper() not in _KEY_DEFINITIONS
            ):
                column = self._column(st, table, first)
                if column in columns:
                    raise st.error(first.pos, f"column `{column}` declared twice")
                columns.append(column)
            depth = 0  # skip the rest of the definition: type, options, key parts
            while True:
                tok = st.next("',' or ')'")
                if tok.kind != "punct":
                    continue
                if tok.text == "(":
                    depth += 1
                elif tok.text == ")":
                    if depth == 0:
                        closed = True
                        break
                    depth -= 1
                elif tok.text == "," and depth == 0:
                    break
        missing = [c for c in _SPECS[table] if c not in columns]
        if missing:
            raise st.error(st.tokens[0].pos, f"missing column `{table}`.`{missing[0]}`")
        self.columns[table] = columns
        self.declared_at[table] = self.line(st.tokens[0].pos)

    def _insert(self, st: _Statement) -> None:
        for modifier in ("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"):
            st.accept(modifier)
        st.accept("INTO")
        name_tok = st.name()
        table = self._table(st, name_tok)
        st.context = f"INSERT into `{table}`"
        if table not in self.columns:
            raise st.error(name_tok.pos, "comes before the table's CREATE TABLE")
        specs = _SPECS[table]
        if st.punct("("):
            columns: list[str] = []
            while True:
                tok = st.next("a column name")
                column = self._column(st, table, tok)
                if column in columns:
                    raise st.error(tok.pos, f"column `{column}` listed twice")
                columns.append(column)
                if not st.punct(","):
                    break
            st.punct(")", "',' or ')'")
        else:
            columns = self.columns[table]
        for name, spec in specs.items():
            if name not in columns and not spec.nullable:
                raise st.error(name_tok.pos, f"NOT NULL column `{name}` is not given")
        if not (st.accept("VALUES") or st.accept("VALUE")):
            tok = st.next("VALUES")
            raise st.error(tok.pos, f"expected VALUES, got {tok.text[:40]!r}")

        rows, lines, seen = self.rows[table], self.lines[table], self.keys[table]
        absent = {name: None for name in specs if name not in columns}
        key = [c.name for c in metadata.tables[table].primary_key.columns]
        width = len(columns)
        while True:
            row_no = len(rows) + 1
            st.detail = f"row {row_no}"
            opening = st.next("'('")
            if opening.text != "(":
                raise st.error(opening.pos, f"expected '(', got {opening.text[:40]!r}")
            row: dict[str, Any] = dict(absent)
            for index, column in enumerate(columns):
                st.detail = f"row {row_no}, column `{column}`"
                if index:
                    st.punct(",", f"',' before value {index + 1} of {width}")
                row[column] = self._value(st, specs[column])
            st.detail = f"row {row_no}"
            st.punct(")", f"')' after {width} values")
            line = self.line(opening.pos)
            pk = tuple(row[c] for c in key)
            if pk in seen:
                raise st.error(
                    opening.pos, f"duplicate primary key {pk} (first at line {seen[pk]})"
                )
            seen[pk] = line
            rows.append(row)
            lines.append(line)
            if not st.punct(","):
                break
        st.detail = ""
        extra = st.peek()
        if extra is not None:
            raise st.error(extra.pos, f"unexpected {extra.text[:40]!r} after the rows")

    def _value(self, st: _Statement, spec: _Spec) -> Any:
        tok = st.next(f"a value for `{spec.name}`")
        if tok.kind == "word" and tok.text.startswith("_"):  # charset introducer: _binary '…'
            tok = st.next(f"a string after {tok.text}")

        def bad(message: str) -> SourceDumpError:
            return st.error(tok.pos, message)

        if tok.kind == "word" and tok.text.upper() == "NULL":
            if not spec.nullable:
                raise bad("NULL in a NOT NULL column")
            return None
        if tok.kind == "hex":
            if spec.kind is not bytes:
                raise bad(f"hex literal {tok.text[:20]!r} for a {spec.kind.__name__} column")
            digits = tok.text[2:] if tok.text[1] in "xX" else tok.text[2:-1]
            return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)
        if tok.kind == "string":
            text = _unescape(tok.text)
        elif tok.kind == "number":
            text = tok.text
        else:
            raise bad(f"expected a value, got {tok.text[:40]!r}")
        shown = repr(text if len(text) <= 40 else text[:37] + "...")

        if spec.kind is str:
            if spec.length is not None and len(text) > spec.length:
                raise bad(f"{shown} is {len(text)} characters, longer than {spec.length}")
            return text
        if spec.kind is int:
            if not INTEGER.fullmatch(text):
                raise bad(f"{shown} is not an integer")
            number = int(text)
            if not -(2 ** (spec.bits - 1)) <= number < 2 ** (spec.bits - 1):
                raise bad(f"{number} is out of range for a {spec.bits}-bit integer")
            return number
        if spec.kind is Decimal:
            return self._decimal(text, spec, shown, bad)
        if spec.kind is dt.date and tok.kind == "string":
            day = text.removesuffix(" 00:00:00")  # DATETIME at midnight, as in older dumps
            try:
                if len(day) == 10:
                    return dt.date.fromisoformat(day)
            except ValueError:
                pass
            raise bad(f"{shown} is not a date (YYYY-MM-DD)")
        if spec.kind is dt.datetime and tok.kind == "string":
            try:
                return dt.datetime.fromisoformat(text)
            except ValueError:
                raise bad(f"{shown} is not a timestamp (YYYY-MM-DD HH:MM:SS)") from None
        if spec.kind is bytes and tok.kind == "string":
            return text.encode("utf-8")
        raise bad(f"{shown} is not a {spec.kind.__name__}")

    @staticmethod
    def _decimal(text: str, spec: _Spec, shown: str, bad: Any) -> Decimal:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise bad(f"{shown} is not a decimal number") from None
        if not number.is_finite():
            raise bad(f"{shown} is not a decimal number")
        if spec.scale is None:
            return number
        if spec.precision is not None and abs(number) >= 10 ** (spec.precision - spec.scale):
            raise bad(f"{shown} does not fit NUMERIC({spec.precision}, {spec.scale})")
        exact = number.quantize(Decimal(1).scaleb(-spec.scale))
        if exact != number:
            raise bad(f"{shown} has more than {spec.scale} decimal places")
        return exact

    def _check_foreign_keys(self) -> None:
        for name in CLASSICMODELS_TABLES:
            for fk in metadata.tables[name].foreign_key_constraints:
                parent = fk.referred_table.name
                local = list(fk.column_keys)
                remote = [element.column.name for element in fk.elements]
                keys = {tuple(row[c] for c in remote) for row in self.rows[parent]}
                pairs = zip(self.rows[name], self.lines[name], strict=True)
                for row_no, (row, line) in enumerate(pairs, start=1):
                    value = tuple(row[c] for c in local)
                    if None not in value and value not in keys:
                        shown = ", ".join(f"{c}={v!r}" for c, v in zip(local, value, strict=True))
                        raise self.error(
                            line,
                            f"INSERT into `{name}`: row {row_no}: {shown} has no match in "
                            f"`{parent}` ({', '.join(remote)})",
                        )


def read_classicmodels_dump(dump_path: Path) -> Rows:
    """Parse and check a ClassicModels MySQL dump: typed rows per table, nothing written.

    A small tokenizer reads the MySQL dump syntax the sample uses: ``CREATE TABLE`` blocks
    declare each table's columns; ``insert into `t`(`a`,…) values (…),(…);`` carry the rows, with
    MySQL string escapes (``\\'``, ``\\"``, ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\0``, ``''``…),
    ``NULL``, numbers and quoted decimals. Everything is checked against
    :mod:`shoplake.generate.schema` (table and column names, NOT NULL, lengths, decimal scale,
    primary and foreign keys), so a bad dump is refused before any database is touched.

    Errors read ``<file>:<line>: <statement>: row <n>, column `<c>`: <what>``; lines count
    ``\\n`` (as ``grep -n`` and ``sed -n`` do), so the dump's stray ``\\r`` do not shift them.
    """
    path = Path(dump_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceDumpError(f"cannot read dump {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceDumpError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})"
        ) from None
    return _DumpReader(path, text.removeprefix("\ufeff")).read()
