"""Every key of the console, in one place: one table of bindings per view, pane and dialog.

Screens and widgets take their ``BINDINGS`` from here, so the footer, the ``?`` help and the command palette
are generated from these tables, and ``tests/console/test_keymap.py`` can check the rule they follow: **one
meaning per key**. A key acts the same in every view that has it (``r`` retries, ``x`` cancels an instance,
``d`` marks a task done, ``f`` fails one); no key filters in one view and acts in another. Filters live on
the ``/`` line (as you type, in every list) and the ``:`` command line (``:instances status=failed``).
The habits of k9s and lazygit hold in every list: ``j`` ``k`` move, ``g`` ``G`` go to the first and last
row, ``/`` filters, ``Esc`` clears, ``:`` jumps.

A new action goes in the table of the view that owns it, with a key no other table gives another meaning
(the test says which one does).
"""

from __future__ import annotations

from textual.binding import Binding

# -- everywhere --------------------------------------------------------------------------------------

APP: list[Binding] = [
    # The views' keys 1-6 are made from console.widgets.nav_bar.VIEWS by the app.
    Binding("colon", "command_line", "Command", key_display=":"),
    Binding("question_mark", "help", "Keys"),
    Binding("ctrl+p", "command_palette", "Command palette", key_display="^p"),
    Binding("q", "quit", "Quit"),
]

# Every table: the moves of k9s and lazygit besides the arrows, Home and End (DataTable's own).
LIST_MOTION: list[Binding] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g,home", "scroll_top", "First row", show=False),
    Binding("G,end", "scroll_bottom", "Last row", show=False),
]

# The history timeline and the context tree (an OptionList and a Tree, whose first and last are the
# widget's own): the same moves.
TREE_MOTION: list[Binding] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "first", "First row", show=False),
    Binding("G", "last", "Last row", show=False),
]

# Shared by the list views: refresh is Ctrl+R (as in k9s), g being the first row.
REFRESH = Binding("ctrl+r", "refresh", "Refresh", show=False)
FILTER = Binding("slash", "filter", "Filter", key_display="/")

# -- the views --------------------------------------------------------------------------------------

OVERVIEW: list[Binding] = [
    Binding("enter", "list_cell", "List these instances", show=False),  # the table's own Enter shows
    Binding("w", "list_waiting", "Waiting for a person"),
    Binding("i", "list_incidents", "Incidents"),
    REFRESH,
]

INSTANCES: list[Binding] = [
    Binding("enter", "open", "Open instance", show=False),  # the table's own Enter shows in the footer
    FILTER,
    Binding("o", "sort", "Sort"),
    Binding("n", "page(1)", "Next page"),  # shown only when there is another page
    Binding("p", "page(-1)", "Prev page"),
    Binding("space", "mark", "Mark"),
    Binding("b", "batch", "Batch action"),
    Binding("escape", "clear_filters", "Unmark, clear filters", show=False),
    REFRESH,
]

INCIDENTS: list[Binding] = [
    Binding("enter", "open", "Open instance", show=False),  # the table's own Enter shows in the footer
    Binding("r", "retry", "Retry"),
    Binding("d", "mark_done", "Mark done"),
    Binding("f", "fail", "Fail"),
    Binding("x", "cancel_instances", "Cancel instance"),
    Binding("space", "mark", "Mark"),
    Binding("a", "mark_all", "Mark all"),
    Binding("e", "split_variables", "Edit variables"),  # of the split an instance stopped at
    FILTER,
    Binding("escape", "clear", "Clear filter, unmark", show=False),
    REFRESH,
]

BLUEPRINTS: list[Binding] = [
    Binding("s", "start", "Start instance"),
    Binding("L", "load", "Load file"),
    FILTER,
    Binding("z", "zoom_graph", "Zoom graph", show=False),  # the graph's own z shows while it has focus
    Binding("enter", "list_instances", "List its instances", show=False),  # the table's Enter shows
    Binding("escape", "clear_filter", "Clear filter", show=False),
    REFRESH,
]

HISTORY: list[Binding] = [
    FILTER,
    Binding("C", "clear", "Clear filters"),
    Binding("escape", "back", "Back"),
    REFRESH,
]

# The person's tasks (Camunda Tasklist's list): S switches the scope (every open task, yours, nobody's), as o
# switches the instances' order; the / line holds it too (scope=mine), so a saved view keeps it.
TASKS: list[Binding] = [
    Binding("enter", "open", "Open instance", show=False),  # the table's own Enter shows in the footer
    Binding("c", "claim", "Claim / release"),
    Binding("d", "mark_done", "Mark done"),
    Binding("S", "scope", "Scope: all, mine, claimable"),
    FILTER,
    Binding("escape", "clear_filter", "Clear filter", show=False),
    REFRESH,
]

INSTANCE: list[Binding] = [
    Binding("escape", "back", "Back"),
    Binding("d", "mark_done", "Mark done"),
    Binding("f", "fail", "Fail"),
    Binding("r", "retry", "Retry"),
    Binding("c", "claim", "Claim / release"),  # shown on a person's open task (Claim or Release)
    Binding("x", "cancel_instance", "Cancel instance"),
    Binding("e", "edit_variable", "Edit variables"),
    Binding("R", "retry_instance", "Resume instance"),
    Binding("m", "move_tokens", "Move tokens"),
    Binding("M", "migrate", "Migrate"),
    Binding("v", "variable_history", "Variable history"),
    Binding("H", "search_history", "History search"),
    Binding("t", "toggle_graph", "Graph"),
    Binding("z", "zoom_graph", "Zoom graph", show=False),  # the graph's own z shows while it has focus
    REFRESH,
]

# -- panes ------------------------------------------------------------------------------------------

GRAPH: list[Binding] = [
    Binding("left,h", "move('left')", "Move", key_display="←↓↑→"),
    Binding("down,j", "move('down')", "Move", show=False),
    Binding("up,k", "move('up')", "Move", show=False),
    Binding("right,l", "move('right')", "Move", show=False),
    Binding("enter", "choose", "Its executions"),
    Binding("z", "zoom", "Zoom"),
]

FILTER_LINE: list[Binding] = [Binding("escape", "clear", "Clear filter")]
COMMAND_LINE: list[Binding] = [Binding("escape", "close", "Close")]

# The tables' Enter, as each names it.
OPEN_INSTANCE = [Binding("enter", "select_cursor", "Open instance")]
OPEN_EXECUTION = [Binding("enter", "select_cursor", "Execution in full")]
LIST_THESE = [Binding("enter", "select_cursor", "List these instances")]
LIST_ITS = [Binding("enter", "select_cursor", "List its instances")]

# What a narrow terminal's footer calls each action (console.widgets.console_footer): the help and the
# palette keep the long names.
SHORT: dict[str, str] = {
    "Open instance": "Open", "Execution in full": "Details", "List these instances": "List",
    "List its instances": "List", "Mark done": "Done", "Cancel instance": "Cancel",
    "Resume instance": "Resume", "History search": "History", "Edit variables": "Set vars",
    "Move tokens": "Move", "Variable history": "Var history", "Batch action": "Batch", "Next page": "Next",
    "Prev page": "Prev",
    "Waiting for a person": "Waiting", "Start instance": "Start", "Load file": "Load", "Clear filters": "Clear",
    "Command palette": "Palette", "Its executions": "Executions", "Claim / release": "Claim",
    "Scope: all, mine, claimable": "Scope",
}

# Every view's table, by the title the help gives it (the help and the keymap test read this).
VIEWS: dict[str, list[Binding]] = {
    "Overview": OVERVIEW, "Instances": INSTANCES, "Incidents": INCIDENTS, "Blueprints": BLUEPRINTS,
    "History": HISTORY, "Tasks": TASKS, "Instance": INSTANCE,
}
