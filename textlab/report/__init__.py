"""How a model does on labelled data: scores per entity type or class, the errors it makes, and pictures.

``textlab test`` and ``validate`` write a report beside the run's logs (``textlab.callbacks.EvaluationReport``),
``textlab report`` writes one from a checkpoint and a data file (``command.py``), and ``textlab fit`` draws its
learning curves (``textlab.callbacks.LearningCurves``).

records.py        one evaluated sentence or text: gold, predicted, probabilities
span_errors.py    a tagger's error categories and span-level confusions
tagger_report.py, classifier_report.py   the report as plain data (report.json)
calibration.py    expected calibration error and the reliability diagram's bins
length_buckets.py the length buckets of scores by length
figures.py, markdown.py, console.py, files.py   the pictures, report.md, the printed table, writing it all
"""
