"""Background pre-synthesis: every catalog answer once, and again after a catalog edit.

gTTS against the local batchexecute fake speaks here (fast, and every request is recorded);
the catalog is a real CatalogProvider on a copy of intents/ that the test edits."""
from __future__ import annotations

import asyncio
import dataclasses
import shutil

from bot.catalog.provider import CatalogProvider
from bot.settings import Settings
from bot.speech import SpeechService, for_the_ear, routes
from bot.speech.answers import catalog_answers
from tests.speech.fake_google import FakeGoogleTts

OLD = "郵送でも請求できます。"
NEW = "郵送でも請求できます。土曜日の窓口でも取れます。"


def expected_files(speech: SpeechService, answers) -> set:
    """The cache files (by name) that speaking `answers` for the phone and the web makes."""
    return {speech.path_for(speech.key(speech.gtts, for_the_ear(text, language), language, False, phone),
                            speech.gtts, phone).name
            for language, text in answers for phone in (True, False)}


def test_every_answer_is_spoken_once_and_an_edit_is_spoken_again(tmp_path, monkeypatch):
    monkeypatch.setattr(routes, "CATALOG_CHECK_SECONDS", 0.2)
    catalog_dir = tmp_path / "intents"
    shutil.copytree(Settings().catalog_dir, catalog_dir)
    provider = CatalogProvider(catalog_dir, check_seconds=0.0)
    google = FakeGoogleTts().start()
    settings = dataclasses.replace(Settings(), tts="gtts", gtts_url=google.url, var_dir=tmp_path)
    speech = SpeechService(settings, tmp_path / "speech")
    before = expected_files(speech, catalog_answers(provider.get()))

    def files() -> set:
        return {path.name for path in speech.cache_dir.glob("*.*") if path.suffix != ".json"}

    async def scenario():
        task = asyncio.create_task(routes.presynthesize_forever(speech, provider))
        while not before <= await asyncio.to_thread(files):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the loop checks the catalog again: unchanged, nothing more is spoken
        first_round = (len(google.requests), await asyncio.to_thread(files))
        path = catalog_dir / "procedures" / "residence_certificate.yml"
        await asyncio.to_thread(path.write_text, path.read_text(encoding="utf-8").replace(OLD, NEW),
                                encoding="utf-8")
        after = expected_files(speech, catalog_answers(await asyncio.to_thread(provider.get)))
        while not after <= await asyncio.to_thread(files):
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        task.cancel()
        return first_round, after

    try:
        (requests, first_files), after = asyncio.run(asyncio.wait_for(scenario(), 300))
    finally:
        google.stop()
    assert first_files == before  # every answer, phone and web, and nothing else
    new = after - before
    assert new and len(new) < len(before) // 20  # the edited procedure's answers, not the catalog again
    assert speech.stats["hits"] + speech.stats["misses"] == len(before) + len(after)
    assert speech.stats["misses"] == len(before) + len(new)
    assert any("土曜日の窓口でも" in request.text for request in google.requests[requests:])
