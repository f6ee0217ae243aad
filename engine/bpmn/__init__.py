"""BPMN 2.0 in and out: pure converters between BPMN XML and blueprints.

- :mod:`engine.bpmn.reader`: BPMN XML text in, a blueprint dict (the Go engine's JSON shape) out, with where each
  node and edge was in the file; every element it cannot map named with its id and line, in one report.
- :mod:`engine.bpmn.writer`: a compiled blueprint and a :class:`~engine.bpmn.diagram.Diagram` (where each shape
  and edge is drawn, computed by a front end's layout) in, BPMN XML with diagram interchange out.
- :mod:`engine.bpmn.forms`: how a node kind is written in BPMN (its entry's ``bpmn`` field in
  :data:`engine.kinds.KINDS`): a new kind maps by its entry, not by a branch in the reader or the writer.
- :mod:`engine.bpmn.expressions`: a flow's condition as CEL, whatever language it came in;
  :mod:`engine.bpmn.feel`: simple FEEL conditions translated to CEL.
- :mod:`engine.bpmn.xml`: the XML parser for files from outside: no DTD, so no entity expansion and no
  external fetches; every element knows its line.

Nothing is imported here: :mod:`engine.kinds` imports :mod:`engine.bpmn.forms`, which the reader and writer
import back.
"""
