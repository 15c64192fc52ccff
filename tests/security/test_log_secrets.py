"""Finding 5 on the real log: after a full Telegram, LINE, staff and call-back run at DEBUG,
no token, secret, access token, phone number or individual number is in the server log."""
from __future__ import annotations

import random
import uuid

import httpx

from bot.redaction import my_number_check_digit
from tests.channels import test_line as line
from tests.channels import test_telegram as telegram
from tests.channels.fake_line import FakeLineApi
from tests.channels.fake_telegram import FakeBotApi
from tests.conftest import FAKE_NOW
from tests.devserver import running_server
from tests.handoff.conftest import PASSWORD, add_account, login
from tests.security.scan import hits

API_TOKEN = "log-probe-api-token-7c1e"
TELEGRAM_PHONE, LINE_PHONE, CALLBACK_PHONE = "090-3141-5926", "(045) 271-8281", "０８０ー２７１８ー２８１８"


def rest(server, sender: str, text: str) -> list:
    reply = httpx.post(f"{server.base_url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                       timeout=60)
    reply.raise_for_status()
    return reply.json()


def test_no_secret_or_personal_number_reaches_the_log(trained_model, tmp_path):
    first_eleven = "".join(random.choice("0123456789") for _ in range(11))
    my_number = first_eleven + str(my_number_check_digit(first_eleven))
    bot_api, line_api = FakeBotApi(telegram.TOKEN).start(), FakeLineApi(line.ACCESS_TOKEN).start()
    extra = {"MADOGUCHI_FAKE_NOW": FAKE_NOW, "MADOGUCHI_LOG_LEVEL": "DEBUG",
             "MADOGUCHI_TELEGRAM_TOKEN": telegram.TOKEN, "MADOGUCHI_TELEGRAM_SECRET": telegram.SECRET,
             "MADOGUCHI_TELEGRAM_API_URL": bot_api.url,
             "MADOGUCHI_LINE_CHANNEL_SECRET": line.SECRET, "MADOGUCHI_LINE_ACCESS_TOKEN": line.ACCESS_TOKEN,
             "MADOGUCHI_LINE_API_URL": line_api.url}
    try:
        with running_server(tmp_path / "var", API_TOKEN, extra) as server:
            # Telegram: questions, a phone number and an individual number in passing, then a person.
            resident = telegram.Resident(server, bot_api, random.randrange(10**8, 10**10))
            resident.say("/start")
            resident.say("住民票の写しがほしい")
            resident.say(f"電話番号は{TELEGRAM_PHONE}です")
            resident.say(f"マイナンバーは{my_number[:4]}ー{my_number[4:8]}ー{my_number[8:]}です")
            assert "番目" in telegram.texts(resident.say("人と話したい"))
            username = f"log{uuid.uuid4().hex[:6]}"
            add_account(server, username, "staff", "山田")
            clerk = login(server, username)
            assert clerk.post(f"/conversations/{resident.sender}/claim").status_code == 200
            reply = clerk.post(f"/conversations/{resident.sender}/messages", {"text": "市民課の山田です。"})
            assert reply.status_code == 200 and reply.json()["delivered"] is True
            assert "市民課の山田です。" in bot_api.texts(resident.chat_id)
            clerk.get(f"/conversations/{resident.sender}")

            # LINE: a question and a phone number.
            line_resident = line.Resident(server, line_api, line.new_user_id())
            assert line.texts(line_resident.say("住民票の写しがほしい"))
            line_resident.say(f"自宅の電話は{LINE_PHONE}です")

            # A call-back request after hours (介護保険課 is closed at the test clock's time).
            sender = f"rest:log-callback-{uuid.uuid4().hex[:8]}"
            for text in ("介護保険の申請をしたい", "人と話したい", "/callback_request", "/callback_consent"):
                rest(server, sender, text)
            assert "承りました" in " ".join(m.get("text") or "" for m in rest(server, sender, CALLBACK_PHONE))
            care_clerk_name = f"kaigo{uuid.uuid4().hex[:6]}"  # a call-back is read by its own section only
            add_account(server, care_clerk_name, "staff", "介護", section="kaigo")
            care_clerk = login(server, care_clerk_name)
            assert care_clerk.get(f"/conversations/{sender}/callback").json() == {"phone": "08027182818"}
    finally:
        bot_api.stop()
        line_api.stop()

    log = server.log_path
    written = log.read_text(encoding="utf-8", errors="replace")
    assert '"level": "debug"' in written  # Rasa's debug events: the chattiest level really ran
    assert "[phone]" in written  # the residents' numbers were there to mask
    secrets = [telegram.TOKEN, telegram.TOKEN.split(":")[1], telegram.SECRET, line.SECRET, line.ACCESS_TOKEN,
               API_TOKEN, PASSWORD]
    assert hits([log], [my_number, "09031415926", "0452718281", "08027182818"], secrets) == []
