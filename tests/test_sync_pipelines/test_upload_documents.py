"""``sync_file_upload_job`` parses uploaded office documents through the document registry.

Contract: a presentation stored by add-file (the upload store) and synced by the upload job
becomes chunks with slide numbers (``start_page``/``end_page``) and its speaker notes, as the
same file would from S3; a corrupt upload fails the run naming ``upload://<name>`` and the
reason.
"""

from pathlib import Path

import dagster as dg

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.names import FETCH_UPLOAD_OP, SYNC_FILE_UPLOAD_JOB
from sync_pipelines.ops.uploads import FileUploadConfig
from sync_pipelines.settings import get_settings
from sync_pipelines.uploads import UploadStore
from tests.document_corpus import SLIDE_NOTE, text_image, write_pptx
from tests.test_sync_pipelines.github_helpers import DATABASE, contents
from tests.test_sync_pipelines.s3_helpers import failure_description


def upload_and_sync(name: str, data: bytes) -> dg.ExecuteInProcessResult:
    settings = get_settings()
    source = Catalog(settings.resolved_catalog_url).ensure_file_upload_source(DATABASE)
    stored = UploadStore(settings.resolved_uploads_dir).save(
        DATABASE, name, [data], declared_size=len(data)
    )
    config = FileUploadConfig(
        source_id=str(source.id), upload_key=stored.key, filename=name, target_collection="files"
    )
    job = build_definitions(settings).resolve_job_def(SYNC_FILE_UPLOAD_JOB)
    return job.execute_in_process(
        run_config=dg.RunConfig(ops={FETCH_UPLOAD_OP: config}), raise_on_error=False
    )


def test_uploaded_deck_has_slides_and_notes(tmp_path: Path) -> None:
    picture = tmp_path / "sign.png"
    text_image().save(picture)
    deck = write_pptx(tmp_path / "deck.pptx", picture).read_bytes()

    result = upload_and_sync("deck.pptx", deck)

    assert result.success, failure_description(result)
    chunks = list(contents("files").values())
    assert {meta["document_key"] for _text, meta in chunks} == {"deck.pptx"}
    assert all(isinstance(meta["start_page"], int) for _text, meta in chunks)
    notes = [meta for text, meta in chunks if "penguin rescue" in text]
    assert notes and notes[0]["start_page"] <= 2 <= notes[0]["end_page"], notes
    assert SLIDE_NOTE.split()[0] in "\n".join(text for text, _meta in chunks)


def test_corrupt_upload_fails_naming_the_file() -> None:
    result = upload_and_sync("broken.pptx", b"PK\x03\x04" + b"x" * 64)
    assert not result.success
    assert failure_description(result).startswith(
        "upload://broken.pptx: corrupt PowerPoint presentation ("
    )
