"""What the spoken guidance says: one prompt per screen, and the PIN's digit counts.

Pure data (no Qt), so the build-time generator (packaging/speech/generate.py) reads the same
catalogue the kiosk plays from. Each screen's prompt is its title from the screens' own words
(kiosk.flow.texts) followed by what can be done there, touch and the numeric keypad's keys
alike; a change to either changes the prompt's text, its hash in the speech manifest no longer
matches, and tests/unit/test_speech_catalogue.py fails until the audio is generated again.

What is never spoken: anything read from the card (name, address, birth date, sex: a
speaker is heard by the whole waiting room) and any digit of a PIN (only how many are typed:
`pin_count_prompt`; after a refusal, the tries left: `pin_refused_prompt`). Results and other
problems are spoken as "it is on the screen", because their texts vary per person and per
service and cannot be made into audio ahead of time.
"""

from __future__ import annotations

from kiosk.flow.machine import Screen
from kiosk.flow.texts import text
from kiosk.i18n import Text

T = Text

#: The label of the guidance button (top bar): short, as the portrait top bar is full.
BUTTON = T("音声案内", "Voice", "こえで あんない")
#: What the button does, for a screen reader.
BUTTON_DESCRIPTION = T(
    "この画面の案内を音声で流します。手続きが終わるまで続きます。",
    "Speaks this screen's guidance aloud, and keeps speaking until the visit ends.",
    "この がめんの あんないを こえで ながします。おわるまで つづきます。",
)
#: The longest PIN whose count is spoken (the user-certificate PIN has 4 digits).
PIN_DIGITS = 4

#: What can be done on a screen: touch, then the keypad's keys (docs/guidance.md).
_ACTIONS: dict[str, Text] = {
    "attract": T(
        "画面にタッチするか、テンキーのエンターキーを押すと始まります。"
        "この案内はアスタリスクキーでもう一度聞けます。",
        "Touch the screen or press Enter on the keypad to start. "
        "Press the star key to hear this guidance again.",
        "がめんに さわるか、エンターキーを おすと はじまります。"
        "ほしの キーで もういちど きけます。",
    ),
    "choice": T(
        "画面の上から順に、テンキーの1、2、3で選べます。マイナスキーで戻ります。",
        "Press 1, 2 or 3 on the keypad for the first, second or third choice from the top. "
        "Minus goes back.",
        "うえから じゅんに 1、2、3の キーで えらべます。マイナスキーで もどります。",
    ),
    "insert": T(
        "カードを置くと次に進みます。やめるときはマイナスキーを押してください。",
        "The next step starts when the card is in. Press minus to cancel.",
        "カードを おくと つぎに すすみます。やめる ときは マイナスキーを おして ください。",
    ),
    "wait": T(
        "カードを抜かずに、そのままお待ちください。",
        "Please wait, and leave the card in.",
        "カードを ぬかないで まって いて ください。",
    ),
    "pin": T(
        "テンキーの数字で入力し、エンターキーで確定します。バックスペースキーで1文字消えます。"
        "入力した数字は読み上げず、何桁入力したかだけをお知らせします。"
        "マイナスキーで中止します。",
        "Type the digits on the keypad and press Enter. Backspace deletes one digit. "
        "The digits are never read out: you hear only how many you have typed. "
        "Minus cancels.",
        "すうじの キーで いれて、エンターキーで きめます。バックスペースキーで 1つ けせます。"
        "いれた すうじは いいません。いくつ いれたか だけ いいます。"
        "マイナスキーで やめます。",
    ),
    "phone": T(
        "確認したらエンターキーを押してください。やめるときはマイナスキーを押してください。",
        "When you have confirmed, press Enter. Press minus to cancel.",
        "たしかめたら エンターキーを おして ください。やめる ときは マイナスキーです。",
    ),
    "refused": T(
        "理由と、代わりにできることは画面に表示しています。"
        "エンターキーで終了します。係員に声をかけることもできます。",
        "Why, and what you can do instead, is on the screen. Press Enter to finish. "
        "You can also ask a member of staff.",
        "わけと、かわりに できる ことは がめんに あります。エンターキーで おわります。"
        "かかりの ひとに きく ことも できます。",
    ),
    "put_back": T(
        "時間内にカードを戻すと、手続きを続けられます。",
        "Put the card back in time to go on.",
        "じかんの うちに カードを もどすと つづけられます。",
    ),
    "password": T(
        "画面のキーボードで入力してください。数字はテンキーでも入力できます。"
        "エンターキーで確定、マイナスキーで中止します。",
        "Type it on the on-screen keyboard; digits can also be typed on the keypad. "
        "Enter confirms, minus cancels.",
        "がめんの キーボードで いれて ください。すうじは テンキーでも いれられます。"
        "エンターキーで きめます。マイナスキーで やめます。",
    ),
    "review": T(
        "読み取った内容は画面に表示しており、読み上げません。"
        "正しければエンターキー、違うときはマイナスキーを押してください。",
        "The details are shown on the screen and are not read out. "
        "Press Enter if they are correct, minus if not.",
        "よみとった ないようは がめんに あります。こえでは いいません。"
        "ただしければ エンターキー、ちがう ときは マイナスキーを おして ください。",
    ),
    "consent": T(
        "同意するときはエンターキー、同意しないときはマイナスキーを押してください。",
        "Press Enter to agree, or minus if you do not agree.",
        "いい ときは エンターキー、いやな ときは マイナスキーを おして ください。",
    ),
    "code": T(
        "テンキーの数字で入力し、エンターキーで確定します。マイナスキーで中止します。",
        "Type the digits on the keypad and press Enter. Minus cancels.",
        "すうじの キーで いれて、エンターキーで きめます。マイナスキーで やめます。",
    ),
    "result": T(
        "手続きが終わりました。結果は画面に表示しています。エンターキーで終了します。",
        "Done. The result is on the screen. Press Enter to finish.",
        "おわりました。けっかは がめんに あります。エンターキーで おわります。",
    ),
    "problem": T(
        "うまくいきませんでした。理由は画面に表示しています。"
        "もう一度試すときはエンターキー、終わるときはマイナスキーを押してください。"
        "係員に声をかけることもできます。",
        "Something went wrong; the reason is on the screen. "
        "Press Enter to try again, or minus to finish. You can also ask a member of staff.",
        "うまく いきません でした。わけは がめんに あります。"
        "もういちど する ときは エンターキー、おわる ときは マイナスキーを おして ください。"
        "かかりの ひとに きく ことも できます。",
    ),
    "blocked": T(
        "このカードは暗証番号がロックされているため使えません。"
        "お住まいの市区町村の窓口で解除できます。エンターキーで終了します。",
        "This card's PIN is locked, so the card cannot be used here. "
        "Your city office can unlock it. Press Enter to finish.",
        "この カードは あんしょうばんごうが ロック されて いて つかえません。"
        "すんで いる まちの やくしょで なおせます。エンターキーで おわります。",
    ),
    "staff": T(
        "係員用の画面です。係員にお声がけください。",
        "This screen is for staff. Please ask a member of staff.",
        "かかりの ひとが つかう がめんです。かかりの ひとに こえを かけて ください。",
    ),
}

#: screen -> (its title's key in kiosk.flow.texts or "" for none, its actions' key above).
_SCREENS: dict[Screen, tuple[str, str]] = {
    Screen.ATTRACT: ("attract.title", "attract"),
    Screen.SERVICES: ("services.title", "choice"),
    Screen.PROVIDERS: ("providers.title", "choice"),
    Screen.INSERT_CARD: ("insert.title", "insert"),
    Screen.READING: ("reading.title", "wait"),
    Screen.PIN: ("pin.title", "pin"),
    Screen.CONFIRM_ON_PHONE: ("phone_confirm.title", "phone"),
    Screen.TOKEN_REFUSED: ("", "refused"),
    Screen.PUT_BACK: ("put_back.title", "put_back"),
    Screen.WORKING: ("work.run_service", "wait"),
    Screen.PASSWORD: ("password.title", "password"),
    Screen.REVIEW: ("review.title", "review"),
    Screen.ENROL_CONSENT: ("enrol_consent.text", "consent"),
    Screen.BINDING_CODE: ("code.title", "code"),
    Screen.SERVICE_CONSENT: ("service_consent.check_title", "consent"),
    Screen.RESULT: ("", "result"),
    Screen.TAKE_CARD: ("take_card.title", ""),
    Screen.ERROR: ("", "problem"),
    Screen.BLOCKED: ("", "blocked"),
    Screen.STAFF_LOGIN: ("", "staff"),
    Screen.STAFF_MENU: ("", "staff"),
    Screen.STAFF_ASSIST: ("", "staff"),
    Screen.STAFF_LINK: ("", "staff"),
    Screen.STAFF_VOID: ("", "staff"),
}

_PIN_COUNT = T(
    "{count}桁入力しました。",
    "{count} digits typed.",
    "{count}つ いれました。",
)
_PIN_ONE = T("1桁入力しました。", "1 digit typed.", "1つ いれました。")
_PIN_NONE = T("何も入力されていません。", "Nothing typed.", "なにも はいって いません。")
_PIN_FULL = T(
    "4桁入力しました。エンターキーで確定します。",
    "4 digits typed. Press Enter to confirm.",
    "4つ いれました。エンターキーで きめます。",
)


def _sentence(words: str, stop: str) -> str:
    """`words` ending as a sentence (a screen title has no full stop of its own)."""
    return words if words.endswith(("。", ".", "?", "!", "？", "！")) else words + stop


#: After a refused PIN: by tries left (1, 2), or without a count; a PIN of the wrong shape.
_PIN_WRONG: dict[str, Text] = {
    "pin.wrong.2": T(
        "暗証番号が違います。残り2回です。もう一度入力してください。",
        "Wrong PIN. 2 tries left. Please type it again.",
        "ばんごうが ちがいます。あと 2かい です。もういちど いれて ください。",
    ),
    "pin.wrong.1": T(
        "暗証番号が違います。あと1回間違えるとロックされます。"
        "分からない場合は係員にご相談ください。",
        "Wrong PIN. One more wrong PIN locks the card. If you are unsure, ask a member of staff.",
        "ばんごうが ちがいます。あと 1かい まちがえると つかえなく なります。"
        "わからない ときは かかりの ひとに きいて ください。",
    ),
    "pin.wrong": T(
        "暗証番号が違います。もう一度入力してください。",
        "Wrong PIN. Please type it again.",
        "ばんごうが ちがいます。もういちど いれて ください。",
    ),
    "pin.format": T(
        "暗証番号は数字4桁です。もう一度入力してください。",
        "The PIN has 4 digits. Please type it again.",
        "ばんごうは すうじ 4つ です。もういちど いれて ください。",
    ),
}


def _joined(*parts: Text) -> Text:
    """Texts spoken one after the other, each a sentence, so the synthesiser pauses."""
    return T(
        "".join(_sentence(p.ja, "。") for p in parts),
        " ".join(_sentence(p.en, ".") for p in parts),
        "".join(_sentence(p.easy or p.ja, "。") for p in parts),
    )


def screen_prompt_id(screen: Screen) -> str:
    """The prompt spoken on `screen` (the staff screens share one)."""
    _, actions = _SCREENS[screen]
    return "screen.staff" if actions == "staff" else f"screen.{screen.value}"


def pin_count_prompt(count: int) -> str:
    """The prompt that says how many PIN digits are typed (never which)."""
    if not 0 <= count <= PIN_DIGITS:
        raise ValueError(f"A PIN has 0 to {PIN_DIGITS} digits, not {count}.")
    return f"pin.count.{count}"


def pin_refused_prompt(retries_left: int | None, *, malformed: bool = False) -> str:
    """The prompt after a refused PIN: its shape, or wrong with the tries left (never the PIN)."""
    if malformed:
        return "pin.format"
    found = f"pin.wrong.{retries_left}"
    return found if found in _PIN_WRONG else "pin.wrong"


def _pin_count_text(count: int) -> Text:
    if count == 0:
        return _PIN_NONE
    if count == 1:
        return _PIN_ONE
    if count == PIN_DIGITS:
        return _PIN_FULL
    return T(
        _PIN_COUNT.format("ja", count=count),
        _PIN_COUNT.format("en", count=count),
        _PIN_COUNT.format("ja-easy", count=count),
    )


def prompts() -> dict[str, Text]:
    """Every prompt, by id: what the generator synthesises and the kiosk plays."""
    found: dict[str, Text] = {}
    for screen, (title, actions) in _SCREENS.items():
        parts = ([text(title)] if title else []) + ([_ACTIONS[actions]] if actions else [])
        found.setdefault(screen_prompt_id(screen), _joined(*parts))
    for count in range(PIN_DIGITS + 1):
        found[pin_count_prompt(count)] = _pin_count_text(count)
    found.update(_PIN_WRONG)
    return found
