"""On a real phone call the first audio played after a question is its direct answer.

A signed Twilio webhook call (the phone channel's own test helpers, real Open JTalk): the first
<Play> of the reply is the audio of the answer's first part, and that part begins with the
direct answer — not a title, not an intro."""
from bot.catalog.sentences import first_sentence
from tests.channels.test_voice import (  # noqa: F401  (pytest fixtures used by name)
    Caller,
    answer_parts,
    speech,
    twilio_api,
    url_of,
    voice_server,
)

CALLS = (
    ("コンビニで住民票はとれますか", "はい", ("暗証番号", "6:30", "23:00", "200円")),
    ("えっと転入届ってオンラインでできますか", "いいえ", ("オンライン",)),
    ("あのー戸籍謄本の手数料はいくらですか", "戸籍謄本・抄本は1通450円", ()),
)


def test_the_first_thing_a_caller_hears_is_the_answer(voice_server, speech):  # noqa: F811
    for question, start, facts in CALLS:
        caller = Caller(voice_server)
        caller.start()
        before = len(caller.bot_texts())
        reply = caller.say(question)
        first_part = answer_parts(caller, before)[0]
        first = first_sentence(first_part, "ja")
        assert first.startswith(start), (question, first)
        assert all(fact in first for fact in facts), (question, first)
        assert reply.plays[0] == url_of(speech, first_part)  # what is played first is that part
