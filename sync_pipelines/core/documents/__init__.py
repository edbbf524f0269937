"""Office documents, spreadsheets, presentations, ebooks, images and PDF as markdown.

Pure core (no Dagster import): :mod:`~sync_pipelines.core.documents.registry` picks a parser
by file suffix; each parser turns bytes into a
:class:`~sync_pipelines.core.types.ParsedDocument` of markdown whose ``locations`` record the
pages, slides and sheets of the original; images are read by
:mod:`~sync_pipelines.core.documents.ocr`.
"""
