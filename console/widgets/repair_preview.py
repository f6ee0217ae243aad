"""What a move or a migration would leave, as the repair dialogs show it before anything is applied."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.formatting import STATUS_STYLES
from engine.repair_ops import RepairPreview
from engine.text import visible


def preview_text(preview: RepairPreview) -> Text:
    """The resulting status, version and tokens, the executions created and cancelled, then each finding
    (blocking ones as ``refused``, the others as ``warning``) and what submitting would do."""
    text = Text()
    text.append("Result  ", style="dim")
    text.append(preview.status, style=STATUS_STYLES.get(preview.status, "bold"))
    text.append(f" on version {preview.version}, tokens at ", style="dim")
    if preview.tokens:
        for index, (node_id, status) in enumerate(preview.tokens):
            text.append(", " if index else "", style="dim")
            text.append(visible(node_id), style="bold")
            text.append(f" ({status})", style=STATUS_STYLES.get(status, "dim"))
    else:
        text.append("none", style="bold")
    if preview.created:
        text.append("\nnew executions at  ", style="dim")
        text.append(visible(", ".join(preview.created)))
    if preview.cancelled:
        text.append("\ncancelled executions at  ", style="dim")
        text.append(visible(", ".join(preview.cancelled)))
    for finding in preview.findings:
        text.append("\nrefused: " if finding.blocking else "\nwarning: ", style="bold red" if finding.blocking
                    else "bold yellow")
        text.append(visible(finding.message, multiline=True), style="red" if finding.blocking else "yellow")
    if not preview.findings:
        text.append("\nno problems: every token can still reach an END", style="green")
    return text


def cannot_force(preview: RepairPreview) -> bool:
    """Whether even forcing cannot apply it (no token would be left: the instance should be cancelled)."""
    return any(finding.blocking and finding.kind == "no_tokens" for finding in preview.findings)


class RepairPreviewPane(Static):
    """The preview of a repair dialog: waiting, the preview, or why there is none (the engine's words)."""

    DEFAULT_CSS = """
    RepairPreviewPane {
        height: auto; max-height: 10; overflow-y: auto; padding: 0 1;
        border: round $primary-darken-2; border-title-color: $text; border-title-style: bold;
    }
    """

    def on_mount(self) -> None:
        self.border_title = "Preview (nothing is applied until you confirm)"

    def show_preview(self, preview: RepairPreview) -> None:
        self.update(preview_text(preview))

    def show_problem(self, message: str) -> None:
        """Why no preview can be made (no node chosen, a token without a target...)."""
        self.update(Text(visible(message, multiline=True), style="bold red"))

    def show_hint(self, message: str) -> None:
        self.update(Text(message, style="dim italic"))
