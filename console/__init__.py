"""wfconsole's terminal console: a Textual app over the engine (``console.app``), its screens and widgets."""
