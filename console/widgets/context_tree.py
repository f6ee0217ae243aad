"""The global context of an instance as a tree of its JSON."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from console import keymap
from console.formatting import compact_json
from engine.text import visible

_SCALAR_STYLES = {bool: "italic magenta", int: "cyan", float: "cyan", str: "green", type(None): "dim italic"}


class ContextTree(Tree[str]):
    """Keys of the context as branches; each node's data is the top-level key it belongs to. The pane's
    bottom border counts the keys and says when more lines are below than the pane shows."""

    DEFAULT_CSS = """
    ContextTree { height: 1fr; }
    """
    BINDINGS = keymap.TREE_MOTION

    def action_first(self) -> None:
        """The first line (g), scrolled into view (Tree scrolls only in its own moves)."""
        self.cursor_line = 0
        self.scroll_to_line(0, animate=False)

    def action_last(self) -> None:
        """The last line (G), scrolled into view."""
        self.cursor_line = max(0, self.last_line)
        self.scroll_to_line(self.cursor_line, animate=False)

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("context", id=id)
        self.show_root = False
        self.guide_depth = 3
        self.keys = 0  # the context's top-level keys, on the bottom border

    @property
    def selected_key(self) -> str | None:
        """The top-level context key under the cursor, or ``None``."""
        node = self.cursor_node
        return node.data if node is not None else None

    def on_focus(self) -> None:
        if self.cursor_line < 0 and self.root.children:
            self.cursor_line = 0

    def show(self, context: dict[str, Any]) -> None:
        """Rebuild the tree from ``context``, keeping the cursor on the same line where possible."""
        line = self.cursor_line
        self.clear()
        if not context:
            self.root.add_leaf(Text("(empty)", style="dim italic"))
        for key, value in context.items():
            _add(self.root, key, value, top_key=key, depth=0)
        self.root.expand()
        self.keys = len(context)
        if line >= 0:
            self.call_after_refresh(self.move_cursor_to_line, line)
        self.call_after_refresh(self._note_overflow)

    def on_resize(self) -> None:
        self.call_after_refresh(self._note_overflow)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._note_overflow()

    def _note_overflow(self) -> None:
        """``7 keys`` on the bottom border, and ``↓ more`` while lines are below the pane's last."""
        if not self.keys:
            self.border_subtitle = ""
            return
        more = self.scroll_y + self.scrollable_content_region.height < self.last_line + 1
        self.border_subtitle = f"{self.keys} key{'s' if self.keys != 1 else ''}" + ("  ↓ more" if more else "")

    def move_cursor_to_line(self, line: int) -> None:
        """Put the cursor on ``line`` (clamped to the tree)."""
        self.cursor_line = min(line, max(self.last_line, 0))


def _add(parent: TreeNode[str], key: str, value: Any, top_key: str, depth: int) -> None:
    label = visible(key)  # a key is stored text: its control and bidi characters shown as escapes
    if isinstance(value, dict):
        branch = parent.add(Text.assemble((label, "bold"), (f"  {{{len(value)}}}", "dim")), data=top_key,
                            expand=depth < 2)
        for child_key, item in value.items():
            _add(branch, str(child_key), item, top_key, depth + 1)
    elif isinstance(value, list):
        branch = parent.add(Text.assemble((label, "bold"), (f"  [{len(value)}]", "dim")), data=top_key,
                            expand=depth < 2 and len(value) <= 20)
        for index, item in enumerate(value):
            _add(branch, f"[{index}]", item, top_key, depth + 1)
    else:
        style = _SCALAR_STYLES.get(type(value), "")
        parent.add_leaf(Text.assemble((label, "bold"), " = ", (compact_json(value, 80), style)), data=top_key)
