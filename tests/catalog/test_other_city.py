"""The sample city's procedure ids are its content contract, not a rule of the loader: a small
catalog of another city (other procedures, one counter, no FAQ) loads and compiles."""
import shutil
from pathlib import Path

import pytest

from bot.catalog import load_catalog
from bot.catalog.compile import compile_catalog
from bot.catalog.model import PROCEDURE_IDS
from bot.settings import PROJECT_ROOT

SOURCE = PROJECT_ROOT / "intents"

CITY = """\
city:
  name: {ja: 別府見本町, en: Mihon Town, easy: "{見本町|みほんちょう}"}
  address: {ja: 見本町本町1, en: "1 Honmachi, Mihon Town", easy: "{見本町|みほんちょう} {本町|ほんまち} 1"}
  access:
    ja: 見本駅から徒歩5分。
    en: 5 minutes on foot from Mihon Station.
    easy: "{見本駅|みほんえき}から {歩|ある}いて 5{分|ふん}です。"
  phone: 0120-111-222
  timezone: Asia/Tokyo
  year_end_closure: ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"]
counters:
  juminka:
    name: {ja: 住民課, en: Residents Section, easy: "{住民課|じゅうみんか}"}
    place: {ja: 役場 1階, en: "Town office, 1st floor", easy: "{役場|やくば}の 1{階|かい}"}
    phone: 0120-111-222
    hours:
      - {weekdays: [0, 1, 2, 3, 4], open: "08:30", close: "17:00"}
    topics: {ja: [ごみ袋, 住民票], en: [garbage bags]}
"""

LIFE_EVENTS = """\
life_events:
  life_event_moving:
    title: {ja: 引っ越し, en: Moving, easy: "{引|ひ}っ{越|こ}し"}
    steps:
      - procedure: town_garbage_bags
      - note: {ja: 役場で聞いてください。, en: Ask at the town office., easy: "{役場|やくば}で {聞|き}いて ください。"}
    examples:
      ja: [引っ越しします, 町に引っ越してきた, 引っ越しの手続き全部,
           引っ越しで必要なこと, 転居の手続きまとめ, 引っ越しのとき何をする,
           引っ越し準備の手続き, 引っ越し チェックリスト,
           引っ越したらやること, 引っ越しの届け一覧]
      en: [I am moving, what to do when moving, moving checklist]
"""


def procedure(pid: str, noun: str, noun_en: str, easy: str) -> str:
    ja = [f"{noun}について知りたい", f"{noun}はどうすればいい", f"{noun}の方法", f"{noun}の手続き", f"{noun}を教えて",
          f"{noun}はどこで", f"{noun}の場所", f"{noun}の料金", f"{noun}の必要なもの", f"{noun}の窓口",
          f"{noun}したい", f"{noun}をお願いしたい", f"{noun}のやり方", f"{noun}は役場で", f"{noun}の申請",
          f"{noun}の受付時間", f"{noun}について質問", f"{noun}ってどうやるの", f"{noun}の手順", f"{noun}はいくら"]
    en = [f"{noun_en}", f"how to get {noun_en}", f"where is {noun_en}", f"{noun_en} fee", f"{noun_en} please"]
    ja_list = "\n".join(f"    - {text}" for text in ja)
    en_list = "\n".join(f"    - {text}" for text in en)
    return f"""\
id: {pid}
section: juminka
owner: 住民課
review_by: 2027-04-01
title: {{ja: {noun}, en: {noun_en}, easy: "{easy}"}}
lead:
  ja: {noun}は、役場1階の住民課で受け付けます。
  en: The Residents Section on the first floor of the town office handles {noun_en}.
  easy: "{easy}は {{役場|やくば}}の 1{{階|かい}}で できます。"
summary: {{ja: {noun}の受付。, en: "{noun_en}.", easy: "{easy}。"}}
audience: {{ja: 町民, en: Residents, easy: "{{町|まち}}の ひと"}}
deadline: {{ja: 期限はありません。, en: No deadline., easy: "いつでも いいです。"}}
documents:
  ja: [本人確認書類]
  en: [Photo ID]
  easy: ["{{本人|ほんにん}}と わかる もの"]
fee:
  yen: 0
  ja: 無料です。
  en: Free.
  easy: "お{{金|かね}}は いりません。"
how:
  counter:
    ja: 役場1階の住民課で受け付けます。
    en: At the Residents Section on the first floor.
    easy: "{{役場|やくば}}の 1{{階|かい}}で できます。"
related: []
examples:
  ja:
{ja_list}
  en:
{en_list}
"""


@pytest.fixture
def other_city(tmp_path) -> Path:
    root = tmp_path / "intents"
    (root / "procedures").mkdir(parents=True)
    (root / "city.yml").write_text(CITY, encoding="utf-8")
    (root / "life_events.yml").write_text(LIFE_EVENTS, encoding="utf-8")
    for name in ("conversation.yml", "phrases.yml"):
        shutil.copyfile(SOURCE / name, root / name)
    (root / "procedures" / "town_garbage_bags.yml").write_text(
        procedure("town_garbage_bags", "指定ごみ袋", "designated garbage bags", "してい ごみぶくろ"), encoding="utf-8")
    (root / "procedures" / "town_bus_pass.yml").write_text(
        procedure("town_bus_pass", "町営バス回数券", "town bus tickets", "まちの バスの きっぷ"), encoding="utf-8")
    return root


def test_the_sample_catalog_has_every_fixed_procedure():
    # The evaluation sets and the phone menu are written against these ids.
    assert set(PROCEDURE_IDS) <= set(load_catalog(SOURCE).procedures)


def test_another_citys_catalog_loads_and_compiles(other_city, tmp_path):
    catalog = load_catalog(other_city)
    assert set(catalog.procedures) == {"town_garbage_bags", "town_bus_pass"}
    assert not set(PROCEDURE_IDS) & set(catalog.procedures)
    assert catalog.faq == {} and catalog.faq_categories == {}
    assert catalog.counters["juminka"].topics["ja"] == ("ごみ袋", "住民票")
    assert catalog.counter_for("town_bus_pass").id == "juminka"
    assert catalog.counter_for(None).id == "juminka"  # no `shimin` here: the first counter
    files = compile_catalog(catalog, tmp_path / "build")
    nlu = files["nlu"].read_text(encoding="utf-8")
    assert "- intent: town_garbage_bags" in nlu and "- intent: town_bus_pass" in nlu
    assert "mynumber_lost" not in nlu and "mynumber_lost" not in files["domain"].read_text(encoding="utf-8")


def test_sample_ids_in_the_code_are_left_out_when_missing(other_city):
    from bot.replies import ReplyBuilder
    from channels import voice

    catalog = load_catalog(other_city)
    # The phone's keypad groups name the sample's procedures: another city has none of them.
    assert all(voice.menu_items(catalog, intents) == [] for _, intents in voice.MENU_GROUPS.values()
               if not set(intents) & {"life_event_moving"})
    assert voice.menu_items(catalog, voice.MENU_GROUPS["3"][1]) == [("life_event_moving", "引っ越し")]
    assert "指定ごみ袋" in voice.hints(catalog)
    # "Did you mean…" with no candidates offers the city's own procedures, not an empty list.
    reply = ReplyBuilder(catalog, "ja").fallback_candidates([])
    assert [button.payload for button in reply.buttons][:2] == ["/town_bus_pass", "/town_garbage_bags"]
    sample = ReplyBuilder(load_catalog(SOURCE), "ja").fallback_candidates([])
    assert [button.payload for button in sample.buttons][:3] == ["/residence_certificate", "/moving_in",
                                                                  "/mynumber_apply"]
