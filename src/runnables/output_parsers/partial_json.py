"""An incremental JSON parser: feed text in pieces, read the partial value at any point.

langchain-core re-parses the whole buffer at every chunk, so streaming ``n`` characters
costs O(n²). This parser keeps its state between chunks (the stack of open containers,
the token being read) and looks at each character once, so the total cost is linear.

The partial value is always a *prefix* of the final value: an object has the members
read so far, an array the items read so far, and an unfinished string appears with the
text read so far. Tokens whose value could still change (a number: ``12`` may become
``123``; ``tru``; an unfinished key) appear only once they are complete.

Leading text is skipped: the JSON starts at a markdown code fence (```` ```json ````) or at
the first ``{`` or ``[``; if the text starts with a JSON value it starts there. Whatever
follows the top-level value (a closing fence, a remark) is ignored.

>>> p = PartialJsonParser()
>>> p.feed('{"name": "Ad')
True
>>> p.snapshot()
{'name': 'Ad'}
>>> p.feed('a", "age": 3')
True
>>> p.snapshot()
{'name': 'Ada'}
>>> p.finish()
{'name': 'Ada', 'age': 3}
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from runnables.output_parsers.base import OutputParserException

__all__ = [
    "PartialJsonParser",
    "parse_and_check_json_markdown",
    "parse_json",
    "parse_json_markdown",
    "parse_partial_json",
]

# Modes: what the parser expects next.
_PRE = 0  # before the JSON: leading text, fences
_VALUE = 1  # a value (after ':' or ',' in an array, or at the start)
_VALUE_OR_CLOSE = 2  # a value or ']' (just after '[')
_KEY_OR_CLOSE = 3  # a key or '}' (just after '{')
_KEY = 4  # a key (after ',' in an object)
_COLON = 5  # ':' after a key
_AFTER = 6  # ',' or the closing bracket, after a value inside a container
_STRING = 7  # inside a string (a key or a value)
_NUMBER = 8
_LITERAL = 9  # true, false, null
_DONE = 10  # the top-level value is complete; the rest is ignored

# Preamble sub-states.
_PRE_START = 0  # only whitespace so far
_PRE_PROSE = 1  # leading text: look for a fence, '{' or '['
_PRE_FENCE = 2  # counting backticks
_PRE_LANG = 3  # after ```: skipping the language tag
_PRE_LITERAL = 4  # the text starts with t/f/n: a literal, or prose ("the answer...")

_WS = frozenset(" \t\n\r")
_STR_RUN = re.compile(r'[^"\\]*')
_NUM_RUN = re.compile(r"[-+0-9.eE]*")
_WS_RUN = re.compile(r"[ \t\n\r]*")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_PROSE_STOP = re.compile(r"[{\[`]")
_LANG_RUN = re.compile(r"[A-Za-z0-9_+.-]*")
_LITERALS = {"true": True, "false": False, "null": None}
_LITERAL_START = {"t": "true", "f": "false", "n": "null"}
_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_VALID_ESCAPES = 'a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)'
_HEX = frozenset("0123456789abcdefABCDEF")
_NOTHING: Any = object()

_EXPECTED = {
    _VALUE: "a JSON value",
    _VALUE_OR_CLOSE: "a JSON value or ']'",
    _KEY_OR_CLOSE: "a quoted key or '}'",
    _KEY: "a quoted key (JSON does not allow a trailing comma)",
    _COLON: "':' after the key",
}


class _Frame:
    """An open container, and the key whose value is being read (objects)."""

    __slots__ = ("container", "is_dict", "key")

    def __init__(self, container: Any, is_dict: bool) -> None:
        self.container = container
        self.is_dict = is_dict
        self.key: str = ""


class PartialJsonParser:
    """Parse JSON text fed in pieces; the partial value is available after every piece.

    ``feed(text)`` returns whether the visible value changed; ``snapshot()`` returns it
    as fresh containers (values already complete are shared between snapshots, so treat
    snapshots as read-only); ``finish()`` ends the text and returns the final value.
    Syntax errors raise :class:`OutputParserException` with the line and column.
    """

    __slots__ = (
        "_changed",
        "_consumed",
        "_esc",
        "_high",
        "_is_key",
        "_line",
        "_line_start",
        "_mode",
        "_parts",
        "_pre",
        "_pre_count",
        "_root",
        "_stack",
        "_tail",
        "_tok",
        "complete",
    )

    def __init__(self) -> None:
        self._stack: list[_Frame] = []
        self._root: Any = _NOTHING
        self._mode = _PRE
        self._pre = _PRE_START
        self._pre_count = 0
        self._parts: list[str] = []  # decoded text of the string being read
        self._is_key = False
        self._esc = ""  # an escape sequence split between pieces
        self._high = ""  # a \\u high surrogate waiting for its low half
        self._tok = ""  # the number or literal being read
        self._changed = False
        self._consumed = 0
        self._line = 1
        self._line_start = 0
        self._tail = ""
        #: Whether the top-level value was complete (``finish`` also accepts truncated JSON).
        self.complete = False

    # ------------------------------------------------------------------ reading

    @property
    def started(self) -> bool:
        """Whether the JSON value has begun (the leading text is behind us)."""
        return self._mode != _PRE

    @property
    def done(self) -> bool:
        """Whether the top-level value is complete."""
        return self._mode == _DONE

    @property
    def changed(self) -> bool:
        """Whether the visible value changed since the last ``snapshot()``."""
        return self._changed

    def snapshot_cost(self) -> int:
        """Roughly how much copying ``snapshot()`` does (entries in open containers)."""
        cost = 0
        for frame in self._stack:
            cost += len(frame.container)
        parts = self._parts
        if self._mode == _STRING and not self._is_key and parts:
            # parts[0] holds what earlier snapshots joined; the rest are the new pieces.
            cost += len(parts) + (len(parts[0]) >> 5)
        return cost

    def snapshot(self) -> Any:
        """The value read so far, or ``None`` if nothing is visible yet.

        The open containers are copied (the parser keeps filling its own), so a snapshot
        does not change when more text is fed.
        """
        self._changed = False
        partial: Any = _NOTHING
        if self._mode == _STRING and not self._is_key:
            partial = self._joined()
        stack = self._stack
        if not stack:
            if partial is not _NOTHING:
                return partial
            return None if self._root is _NOTHING else self._root
        child = partial
        last = len(stack) - 1
        for depth in range(last, -1, -1):
            frame = stack[depth]
            copy = frame.container.copy()
            if child is not _NOTHING:
                if frame.is_dict:
                    copy[frame.key] = child
                elif depth == last:
                    copy.append(child)  # the unfinished string is not in the list yet
                else:
                    copy[-1] = child  # the open child container is the last item
            child = copy
        return child

    def _joined(self) -> str:
        parts = self._parts
        if len(parts) == 1:
            return parts[0]
        text = "".join(parts)
        # Later snapshots join from this piece, so a long string is not re-joined piecewise.
        parts[:] = [text] if text else []
        return text

    # ------------------------------------------------------------------ feeding

    def feed(self, text: str) -> bool:
        """Read the next piece of text; return whether the visible value changed."""
        if text:
            mode = self._mode
            if mode != _DONE:
                self._feed(text)
            n = len(text)
            newlines = text.count("\n")
            if newlines:
                self._line += newlines
                self._line_start = self._consumed + text.rfind("\n") + 1
            self._consumed += n
            tail = self._tail + text
            self._tail = tail[-160:] if len(tail) > 320 else tail
        return self._changed

    def _feed(self, text: str) -> None:
        i = 0
        n = len(text)
        mode = self._mode
        if mode == _PRE:
            i = self._preamble(text, 0)
            mode = self._mode
        elif mode == _STRING and self._esc:
            i = self._resume_escape(text)
        elif mode in (_NUMBER, _LITERAL):
            i = self._token(text, 0)
            mode = self._mode
        while i < n and mode != _DONE:
            if mode == _STRING:
                j = _STR_RUN.match(text, i).end()  # type: ignore[union-attr]
                if j > i:
                    if self._high:
                        self._parts.append(self._high)
                        self._high = ""
                    self._parts.append(text[i:j])
                    if not self._is_key:
                        self._changed = True
                    i = j
                    if i == n:
                        break
                if text[i] == '"':
                    i += 1
                    mode = self._end_string()
                    continue
                # A backslash: decode the escape, or keep it for the next piece.
                end = i + 2
                if end <= n and text[i + 1] == "u":
                    end = i + 6
                if end > n:
                    self._esc = text[i:]
                    break
                self._escape(text[i:end], text, i)
                i = end
                continue
            c = text[i]
            if c in _WS:
                i = _WS_RUN.match(text, i).end()  # type: ignore[union-attr]
                continue
            if mode == _AFTER:
                frame = self._stack[-1]
                if c == ",":
                    mode = _KEY if frame.is_dict else _VALUE
                elif c == ("}" if frame.is_dict else "]"):
                    self._stack.pop()
                    if not self._stack:
                        mode = _DONE
                        self.complete = True
                        break
                else:
                    self._mode = mode
                    close = "}" if frame.is_dict else "]"
                    self._fail(text, i, f"',' or '{close}'")
                i += 1
            elif mode == _COLON:
                if c != ":":
                    self._mode = mode
                    self._fail(text, i, _EXPECTED[_COLON])
                mode = _VALUE
                i += 1
            elif mode in (_KEY_OR_CLOSE, _KEY):
                if c == '"':
                    mode = _STRING
                    self._is_key = True
                    self._parts = []
                elif c == "}" and mode == _KEY_OR_CLOSE:
                    self._stack.pop()
                    mode = _AFTER if self._stack else _DONE
                    if mode == _DONE:
                        self.complete = True
                        break
                else:
                    self._mode = mode
                    self._fail(text, i, _EXPECTED[mode])
                i += 1
            else:  # _VALUE or _VALUE_OR_CLOSE
                if c == '"':
                    mode = _STRING
                    self._is_key = False
                    self._parts = []
                    self._changed = True  # an empty string is now visible
                    i += 1
                elif c == "{":
                    self._open({}, True)
                    mode = _KEY_OR_CLOSE
                    i += 1
                elif c == "[":
                    self._open([], False)
                    mode = _VALUE_OR_CLOSE
                    i += 1
                elif c == "]" and mode == _VALUE_OR_CLOSE:
                    self._stack.pop()
                    mode = _AFTER if self._stack else _DONE
                    i += 1
                    if mode == _DONE:
                        self.complete = True
                        break
                elif c == "-" or "0" <= c <= "9":
                    self._mode = _NUMBER
                    self._tok = ""
                    i = self._token(text, i)
                    mode = self._mode
                elif c in _LITERAL_START:
                    self._mode = _LITERAL
                    self._tok = ""
                    i = self._token(text, i)
                    mode = self._mode
                else:
                    self._mode = mode
                    expected = _EXPECTED[mode]
                    if c in "]}":
                        expected += " (JSON does not allow a trailing comma)"
                    self._fail(text, i, expected)
        self._mode = mode

    def _open(self, container: Any, is_dict: bool) -> None:
        stack = self._stack
        if stack:
            parent = stack[-1]
            if parent.is_dict:
                parent.container[parent.key] = container
            else:
                parent.container.append(container)
        else:
            self._root = container
        stack.append(_Frame(container, is_dict))
        self._changed = True

    def _add(self, value: Any, shown: bool = False) -> int:
        """Store a complete value in the open container; return the next mode.

        ``shown``: the value was visible already (a string read so far), so the visible
        value does not change.
        """
        if not shown:
            self._changed = True
        stack = self._stack
        if not stack:
            self._root = value
            self.complete = True
            return _DONE
        frame = stack[-1]
        if frame.is_dict:
            frame.container[frame.key] = value
        else:
            frame.container.append(value)
        return _AFTER

    def _end_string(self) -> int:
        if self._high:
            self._parts.append(self._high)
            self._high = ""
        text = self._joined()
        self._parts = []
        if self._is_key:
            self._stack[-1].key = text
            return _COLON
        return self._add(text, shown=True)

    def _escape(self, seq: str, text: str, at: int) -> None:
        """Decode one escape sequence (``\\n``, ``\\u00e9``...) into the open string."""
        kind = seq[1]
        if kind == "u":
            digits = seq[2:]
            if len(digits) != 4 or not all(d in _HEX for d in digits):
                self._fail(text, at, "four hex digits after '\\u'", found=seq)
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDBFF:
                # Wait for the low half: the pair is one character in the final string.
                if self._high:
                    self._parts.append(self._high)
                self._high = chr(code)
                return
            if 0xDC00 <= code <= 0xDFFF and self._high:
                high = ord(self._high) - 0xD800
                char = chr(0x10000 + (high << 10) + (code - 0xDC00))
                self._high = ""
            else:
                char = chr(code)
        else:
            decoded = _ESCAPES.get(kind)
            if decoded is None:
                self._fail(text, at, _VALID_ESCAPES, seq)
            char = decoded  # type: ignore[assignment]
        if self._high:
            self._parts.append(self._high)
            self._high = ""
        self._parts.append(char)
        if not self._is_key:
            self._changed = True

    def _resume_escape(self, text: str) -> int:
        """Finish an escape sequence that the previous piece cut; return where to go on."""
        held = self._esc
        seq = held + text[:6]
        need = 6 if len(seq) >= 2 and seq[1] == "u" else 2
        if len(seq) < need:
            self._esc = seq
            return len(text)
        self._esc = ""
        # Errors point at the start of this piece; the escape began in the previous one.
        self._escape(seq[:need], text, 0)
        return need - len(held)

    def _token(self, text: str, i: int) -> int:
        """Read a number or literal from ``text[i:]``; return where it ended."""
        if self._mode == _NUMBER:
            j = _NUM_RUN.match(text, i).end()  # type: ignore[union-attr]
            self._tok += text[i:j]
            if j == len(text):
                return j  # the number may go on in the next piece
            self._mode = self._end_number(text, j)
            return j
        word = _LITERAL_START[(self._tok or text[i])[0]]
        need = len(word) - len(self._tok)
        got = text[i : i + need]
        tok = self._tok + got
        if not word.startswith(tok):
            bad = next(k for k in range(len(tok)) if tok[k] != word[k])
            self._fail(text, i + bad - len(self._tok), f"the literal {word!r}", found=tok)
        if len(tok) < len(word):
            self._tok = tok
            return len(text)
        self._tok = ""
        self._mode = self._add(_LITERALS[word])
        return i + len(got)

    def _end_number(self, text: str, at: int) -> int:
        tok = self._tok
        self._tok = ""
        m = _NUMBER_RE.fullmatch(tok)
        if m is None:
            self._fail(text, at - len(tok), "a JSON number", found=tok)
        assert m is not None  # _fail raised otherwise
        value: Any = float(tok) if m.group(1) or m.group(2) else int(tok)
        return self._add(value)

    # ------------------------------------------------------------------ leading text

    def _preamble(self, text: str, i: int) -> int:
        """Skip text before the JSON; return where the JSON starts (or ``len(text)``)."""
        n = len(text)
        while i < n:
            state = self._pre
            c = text[i]
            if state == _PRE_START:
                if c in _WS:
                    i += 1
                elif c in '{["-' or "0" <= c <= "9":
                    self._mode = _VALUE
                    return i
                elif c == "`":
                    self._pre, self._pre_count = _PRE_FENCE, 0
                elif c in _LITERAL_START:
                    self._pre, self._tok = _PRE_LITERAL, ""
                else:
                    self._pre = _PRE_PROSE
            elif state == _PRE_PROSE:
                m = _PROSE_STOP.search(text, i)
                if m is None:
                    return n
                i = m.start()
                if text[i] == "`":
                    self._pre, self._pre_count = _PRE_FENCE, 0
                else:
                    self._mode = _VALUE
                    return i
            elif state == _PRE_FENCE:
                if c == "`":
                    self._pre_count += 1
                    i += 1
                    if self._pre_count == 3:
                        self._pre = _PRE_LANG
                else:
                    self._pre = _PRE_PROSE  # inline code, not a fence
            elif state == _PRE_LANG:
                j = _LANG_RUN.match(text, i).end()  # type: ignore[union-attr]
                if j == n:
                    return n
                self._mode = _VALUE
                return j
            else:  # _PRE_LITERAL
                word = _LITERAL_START[(self._tok or c)[0]]
                tok = self._tok + c
                if not word.startswith(tok):
                    self._tok = ""
                    self._pre = _PRE_PROSE
                    continue
                i += 1
                if tok == word:
                    self._tok = ""
                    self._mode = self._add(_LITERALS[word])
                    return i
                self._tok = tok
        return n

    # ------------------------------------------------------------------ ending

    def finish(self) -> Any:
        """End the text and return the final value.

        Truncated JSON is accepted, as langchain-core does (a model may stop at its token
        limit): open strings and containers are closed and an unfinished key or literal is
        dropped; ``complete`` says whether the JSON was whole. Text with no JSON value at
        all raises :class:`OutputParserException`.
        """
        mode = self._mode
        if mode == _DONE:
            return self._root
        cut = mode != _NUMBER  # a number's end is the end of the text; anything else is cut
        if mode == _NUMBER:
            if not self._stack or _NUMBER_RE.fullmatch(self._tok):
                mode = self._end_number("", 0)
            # else: a number cut off mid-way ("-", "1e") inside a container is dropped.
        elif mode == _STRING and not self._is_key:
            if self._esc.startswith("\\u") or self._esc == "\\":
                self._esc = ""  # a cut escape carries no character yet
            mode = self._end_string()
        truncated = cut or mode != _DONE or bool(self._stack)
        if self._root is _NOTHING:
            what = "no JSON value" if mode == _PRE else "an unfinished JSON value"
            raise OutputParserException(
                f"The text ended with {what} (after {self._consumed} characters). Expected "
                "a JSON object, array, string, number, true, false or null; check that the "
                "model was asked for JSON and was not cut off.",
                position=self._consumed,
                line=self._line,
                column=self._consumed - self._line_start + 1,
            )
        self.complete = not truncated
        self._mode = _DONE
        self._stack = []
        return self._root

    # ------------------------------------------------------------------ errors

    def _fail(self, text: str, i: int, expected: str, found: str | None = None) -> None:
        pos = self._consumed + i
        before = text[:i]
        newline = before.rfind("\n")
        if newline >= 0:
            line = self._line + before.count("\n")
            column = i - newline
        else:
            line = self._line
            column = pos - self._line_start + 1
        seen = (self._tail + text)[: len(self._tail) + i]
        start = max(seen.rfind("\n") + 1, len(seen) - 60)
        ahead = text[i : i + 20].split("\n", 1)[0]
        shown = seen[start:] + ahead
        caret = " " * (len(seen) - start) + "^"
        what = found if found is not None else (text[i] if i < len(text) else "the end")
        raise OutputParserException(
            f"Invalid JSON at line {line}, column {column}: expected {expected}, found "
            f"{what!r}.\n    {shown}\n    {caret}",
            line=line,
            column=column,
            position=pos,
        )


def parse_json(text: str) -> Any:
    """Parse a model's complete JSON output (code fences and leading text are skipped).

    Well-formed JSON goes through the C ``json`` decoder; anything else through
    :class:`PartialJsonParser`, which accepts truncated JSON and reports syntax errors
    with their line and column.
    """
    try:
        return json.loads(text, strict=False)
    except (json.JSONDecodeError, TypeError):
        pass
    parser = PartialJsonParser()
    parser.feed(text)
    return parser.finish()


def parse_partial_json(s: str, *, strict: bool = False) -> Any:
    """langchain-core's helper: parse JSON that may be cut off, as it does.

    Well-formed JSON is decoded as is. Otherwise open strings are closed (a dangling
    backslash dropped, raw newlines in strings escaped) and open brackets closed, then
    the text is shortened from the end until it decodes: ``'{"a": [1, 2, oops'`` gives
    ``{"a": [1, 2]}``. ``None`` if a closing bracket does not match an open one;
    :class:`json.JSONDecodeError` if no prefix decodes.
    """
    try:
        return json.loads(s, strict=strict)
    except json.JSONDecodeError:
        pass
    pieces: list[str] = []  # the repaired text, one piece per input character
    closers: list[str] = []
    in_string = escaped = False
    for char in s:
        piece = char
        if in_string:
            if char == '"' and not escaped:
                in_string = False
            elif char == "\n" and not escaped:
                piece = "\\n"
            elif char == "\\":
                escaped = not escaped
            else:
                escaped = False
        elif char == '"':
            in_string, escaped = True, False
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]":
            if not closers or closers[-1] != char:
                return None
            closers.pop()
        pieces.append(piece)
    if in_string:
        if escaped:
            pieces.pop()
        pieces.append('"')
    tail = "".join(reversed(closers))
    # Where each piece ends in the joined text: a decode error at offset ``pos`` lies in
    # piece ``bisect_right(ends, pos)``, and every longer prefix still holds it, so the
    # text is cut there at once (a long invalid tail costs a few decodes, not one each).
    ends = list(accumulate(map(len, pieces)))
    while pieces:
        try:
            return json.loads("".join(pieces) + tail, strict=strict)
        except json.JSONDecodeError as exc:
            cut = bisect_right(ends, exc.pos)
            if cut >= len(pieces):
                cut = len(pieces) - 1
            del pieces[cut:], ends[cut:]
    return json.loads(s, strict=strict)


_FENCED = re.compile(r"```(json)?(.*)", re.DOTALL)
_ACTION_INPUT = re.compile(r'("action_input"\:\s*")(.*?)(")', re.DOTALL)


def _escape_action_input(match: re.Match[str]) -> str:
    value = match.group(2)
    value = value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    value = re.sub(r'(?<!\\)"', r"\"", value)
    return match.group(1) + value + match.group(3)


def _parse_json_text(text: str, parser: Callable[[str], Any]) -> Any:
    text = text.strip(" \n\r\t`")
    # Agents' "action_input" values often hold raw newlines and quotes: escape them.
    return parser(_ACTION_INPUT.sub(_escape_action_input, text))


def parse_json_markdown(
    json_string: str, *, parser: Callable[[str], Any] = parse_partial_json
) -> Any:
    """langchain-core's helper: parse JSON from a model's markdown answer.

    The whole text is tried first (surrounding whitespace and backticks stripped), then
    what follows the first code fence (```` ``` ```` or ```` ```json ````). ``parser``
    (default :func:`parse_partial_json`) decodes the text; its
    :class:`json.JSONDecodeError` propagates.
    """
    try:
        return _parse_json_text(json_string, parser)
    except json.JSONDecodeError:
        match = _FENCED.search(json_string)
        text = json_string if match is None else match.group(2)
    return _parse_json_text(text, parser)


def parse_and_check_json_markdown(text: str, expected_keys: list[str]) -> dict[str, Any]:
    """langchain-core's helper: :func:`parse_json_markdown`, then check it is an object
    with ``expected_keys``; :class:`OutputParserException` otherwise."""
    try:
        value = parse_json_markdown(text)
    except json.JSONDecodeError as exc:
        raise OutputParserException(
            f"Got invalid JSON object. Error: {exc}", llm_output=text
        ) from exc
    if not isinstance(value, dict):
        raise OutputParserException(
            f"Expected JSON object (dict), but got: {type(value).__name__}. Ask the model "
            "for a JSON object.",
            llm_output=text,
        )
    for key in expected_keys:
        if key not in value:
            raise OutputParserException(
                f"Got invalid return object. Expected key `{key}` to be present, but got {value}",
                llm_output=text,
            )
    return value
