"""One value set or removed in a YAML file read round trip (conf/'s files), the file kept
as written around it: the comments where they stand, a list's style, text quoted where
YAML would read it otherwise.

A comment above a key belongs, as a reader sees it, to that key; ruamel keeps it on the
key before (after its value), or on that value's last item. So when a value goes, or
changes shape, the comment lines below it are moved onto the key that follows them, at
whatever depth that key is; below the file's last key, they stay the file's last lines."""

from __future__ import annotations

from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

# From the document down: each mapping and its key on the way to the value edited.
Path = list[tuple[CommentedMap, str]]


def round_trip() -> YAML:
    """A reader and writer in conf/'s own style."""

    class Representer(RoundTripRepresenter):  # its own table: the class's is shared
        pass

    Representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    yaml_rt = YAML()
    yaml_rt.Representer = Representer
    yaml_rt.preserve_quotes = True
    yaml_rt.indent(mapping=2, sequence=4, offset=2)  # "  - item"
    yaml_rt.width = 4096  # folded text keeps its own line breaks (ruamel wraps at 80)
    return yaml_rt


def set_value(path: Path, value: Any) -> bool:
    """The last key of `path` set to `value`; False if it was so already."""
    node, leaf = path[-1]
    if leaf in node and node[leaf] == value:
        return False
    old = node.get(leaf)
    new = _styled(value, old)
    moves = leaf in node and (_block(old) or _block(new))  # a scalar's comment stays put
    below = _comment_below(node, leaf) if moves else []
    if moves and not _block(old):  # on the key itself: its end-of-line part stays
        _keep_end_of_line(node, leaf)
    node[leaf] = new
    if isinstance(old, CommentedSeq) and leaf in node.ca.items:
        node.ca.items[leaf][3] = None  # the old first item's comment, kept on the key
    _put_above_next(path, below)
    return True


def remove(path: Path) -> bool:
    """The last key of `path` removed; False if it was not there."""
    node, leaf = path[-1]
    if leaf not in node:
        return False
    below = _comment_below(node, leaf)
    following = _next_key(path)
    del node[leaf]
    if following and below:
        _put_above(*following, below)
    elif below:  # it was the file's last value: its closing lines stay the file's last
        _put_at_end(path[0][0], below)
    return True


def _block(value: Any) -> bool:
    """Is `value` a mapping or list written as a block, under its key's line?"""
    return (
        isinstance(value, (CommentedMap, CommentedSeq))
        and bool(value)
        and not value.fa.flow_style()
    )


def _styled(value: Any, old: Any, inner: bool = False) -> Any:
    """`value` as conf/ writes it: a list inside a list in flow style (`- [a, b]`, as
    ct.tries), a list replacing one in the old one's style (`[]` is flow)."""
    if isinstance(value, dict):
        return CommentedMap({k: _styled(v, None, inner) for k, v in value.items()})
    if isinstance(value, str) and not _reads_back(value):  # `No`, `on`, `12:30`, ``
        return SingleQuotedScalarString(value)
    if not isinstance(value, list):
        return value
    node = CommentedSeq(_styled(v, None, inner=True) for v in value)
    if (old.fa.flow_style() or not old) if isinstance(old, CommentedSeq) else inner:
        node.fa.set_flow_style()
    return node


def _reads_back(text: str) -> bool:
    """Is `text`, unquoted, read back as this text by Hydra's YAML (1.1: `No` is false)?"""
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _comment_below(node: CommentedMap, leaf: str) -> list[str]:
    """The lines below a key's value up to the next key, blank ones too: ruamel keeps them
    on the key (after its end-of-line comment), on a block list (after its last item's
    end-of-line comment, or at its end) or on a block mapping's last key, and so on down."""
    value = node.get(leaf)
    if _block(value) and isinstance(value, CommentedMap):
        return _comment_below(value, list(value)[-1])
    if _block(value):
        last = value.ca.items.get(len(value) - 1)
        lines = _after_first_line(last[0]) if last else []
        return lines + [line for token in value.ca.end or [] for line in _lines(token)]
    item = node.ca.items.get(leaf)
    return _after_first_line(item[2]) if item and len(item) > 2 else []


def _lines(token: Any) -> list[str]:
    return token.value.splitlines() if token else []


def _after_first_line(token: Any) -> list[str]:
    """A token's lines after the first (the end-of-line comment of the line it is on)."""
    return _lines(token)[1:]


def _keep_end_of_line(node: CommentedMap, leaf: str) -> None:
    item = node.ca.items.get(leaf)
    if item and len(item) > 2 and item[2]:
        first = item[2].value.partition("\n")[0]
        item[2] = CommentToken(f"{first}\n", item[2].start_mark) if first.strip() else None


def _next_key(path: Path) -> tuple[CommentedMap, str, int] | None:
    """The key that follows the last of `path` in the file, with its indent: the next in its
    mapping, or else the next after one of its parents."""
    for depth in range(len(path) - 1, -1, -1):
        node, key = path[depth]
        keys = list(node)
        later = keys[keys.index(key) + 1 :] if key in node else []
        if later:
            return node, later[0], 2 * depth
    return None


def _put_above_next(path: Path, lines: list[str]) -> None:
    following = _next_key(path)
    if following and lines:
        _put_above(*following, lines)
    elif lines:
        _put_at_end(path[0][0], lines)


def _put_at_end(document: CommentedMap, lines: list[str]) -> None:
    """`lines` as the file's closing comment, below its last value whatever its depth or
    style (where ruamel keeps the lines below a flow value)."""
    ca = document.ca
    ca.comment = [*(ca.comment or []), None, None, None][:3]
    moved = [CommentToken(f"{line}\n", CommentMark(0)) for line in lines]
    ca.comment[2] = [*moved, *(ca.comment[2] or [])]


def _put_above(node: CommentedMap, key: str, indent: int, lines: list[str]) -> None:
    """`lines` as they were (a lone `#` and blank lines too), above `key` at `indent`."""
    entry = node.ca.items.setdefault(key, [None, [], None, None])
    moved = [CommentToken(f"{line.strip()}\n", CommentMark(indent)) for line in lines]
    entry[1] = [*moved, *(entry[1] or [])]
