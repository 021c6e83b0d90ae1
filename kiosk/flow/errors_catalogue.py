"""One catalogue: every problem the kiosk can show → title, text, icon, whether a retry helps.

Card, verification and platform errors are translated into a `Problem` where the card worker
catches them (kiosk.ui.problems); the screens only ever look problems up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.i18n import Text


class ProblemCode(StrEnum):
    """Stable codes of everything that can go wrong, as the person at the kiosk sees it."""

    CARD_REMOVED = "card_removed"
    READER_MISSING = "reader_missing"
    PCSC_DOWN = "pcsc_down"
    NOT_MY_NUMBER_CARD = "not_my_number_card"
    CARD_ERROR = "card_error"
    PIN_FORMAT = "pin_format"
    PIN_INCORRECT = "pin_incorrect"
    PIN_BLOCKED = "pin_blocked"
    PIN_UNCONFIRMED = "pin_unconfirmed"  # the card answered the PIN oddly; it is not resent
    PASSWORD_FORMAT = "password_format"  # noqa: S105 (a problem code, not a secret)
    PASSWORD_INCORRECT = "password_incorrect"  # noqa: S105 (a problem code, not a secret)
    PASSWORD_BLOCKED = "password_blocked"  # noqa: S105 (a problem code, not a secret)
    PASSWORD_UNCONFIRMED = "password_unconfirmed"  # noqa: S105 (a problem code, not a secret)
    NO_SIGN_CERT = "no_sign_cert"
    CERT_EXPIRED = "cert_expired"
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    CERT_REVOKED = "cert_revoked"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    BAD_CERTIFICATE = "bad_certificate"
    BAD_SIGNATURE = "bad_signature"
    CHALLENGE_INVALID = "challenge_invalid"
    REVOCATION_UNKNOWN = "revocation_unknown"
    NEEDS_REENROLMENT = "needs_reenrolment"
    ENROLMENT_MISMATCH = "enrolment_mismatch"
    LINK_EXISTS = "link_exists"
    NO_RECORD = "no_record"
    RECORD_MISMATCH = "record_mismatch"
    PLATFORM_UNREACHABLE = "platform_unreachable"
    KIOSK_NOT_REGISTERED = "kiosk_not_registered"  # the platform: not for this provider/terminal
    KIOSK_CREDENTIAL_REFUSED = "kiosk_credential_refused"  # the platform: unknown or revoked
    SERVICE_FAILED = "service_failed"
    STAFF_PIN_WRONG = "staff_pin_wrong"
    STAFF_FORMAT = "staff_format"
    STAFF_LOCKED = "staff_locked"
    ASSIST_FORMAT = "assist_format"
    PATIENT_NUMBER_FORMAT = "patient_number_format"
    RECEIPT_FORMAT = "receipt_format"
    VOID_UNKNOWN_RECEIPT = "void_unknown_receipt"
    VOID_NOT_SETTLED = "void_not_settled"
    VOID_UNCONFIRMED = "void_unconfirmed"  # the card company did not answer: try again
    VOID_REFUSED = "void_refused"  # the card company will not void it
    VOID_UNAVAILABLE = "void_unavailable"  # the ledger (or the void itself) is not available
    LOGIN_CODE_FORMAT = "login_code_format"  # not 8 digits: checked before anything is asked
    LOGIN_CODE_UNKNOWN = "login_code_unknown"  # no sign-in waits with this code
    LOGIN_CODE_EXPIRED = "login_code_expired"
    LOGIN_CODE_USED = "login_code_used"
    LOGIN_CODE_OTHER_PROVIDER = "login_code_other_provider"  # not a service of this kiosk's
    LOGIN_CODE_REFUSED = "login_code_refused"  # refused for a reason the provider did not say
    LOGIN_CODE_RATE_LIMITED = "login_code_rate_limited"  # wait `wait_s` before the next code
    LOGIN_CODE_TOO_MANY = "login_code_too_many"  # three refused codes: the visit ends
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Problem:
    """What went wrong, with the data a screen needs (tries left, seconds to wait); never a
    secret."""

    code: ProblemCode
    retries_left: int | None = None
    wait_s: int | None = None  # a lockout's seconds left when it was reported


@dataclass(frozen=True, slots=True)
class Entry:
    """How one problem is shown: title, what to do, icon name (kiosk/resources/icons) and retry."""

    title: Text
    text: Text
    icon: str
    retry: bool


_RESET_WHERE = Text(
    "暗証番号の再設定は、お住まいの市区町村の窓口で行えます(本人確認書類をお持ちください)。"
    "もう一方の暗証番号が分かれば、コンビニのキオスク端末でも再設定できます。",
    "The PIN can be reset at your municipal office (bring photo ID). If you know the other "
    "PIN of the card, a convenience-store kiosk can also reset it.",
    "あんしょうばんごうは、すんでいる 市役所・町役場・村役場の まどぐちで なおせます。"
    "もう ひとつの あんしょうばんごうが わかれば、コンビニの きかいでも なおせます。",
)

_VERIFY_FAILED_TITLE = Text(
    "電子証明書を確認できませんでした",
    "The certificate could not be accepted",
    "カードの しょうめいしょが つかえません",
)

CATALOGUE: dict[ProblemCode, Entry] = {
    ProblemCode.CARD_REMOVED: Entry(
        Text("カードが抜かれました", "The card was removed", "カードが ぬけました"),
        Text(
            "手続きを中止しました。最初からやり直してください。",
            "The procedure was stopped. Please start again.",
            "とちゅうで やめました。はじめから もういちど してください。",
        ),
        "card-removed",
        True,
    ),
    ProblemCode.READER_MISSING: Entry(
        Text(
            "カードリーダーが見つかりません",
            "No card reader found",
            "カードを よむ きかいが ありません",
        ),
        Text(
            "カードリーダーが接続されていません。係員をお呼びください。",
            "The card reader is not connected. Please ask a member of staff.",
            "カードを よむ きかいが つながって いません。かかりの ひとを よんで ください。",
        ),
        "reader",
        True,
    ),
    ProblemCode.PCSC_DOWN: Entry(
        Text(
            "カードサービスが停止しています",
            "The card service is not running",
            "カードの しくみが とまって います",
        ),
        Text(
            "カードを読み取るサービス(pcscd)が動いていません。係員をお呼びください。",
            "The service that reads cards (pcscd) is not running. Please ask a member of staff.",
            "カードを よむ しくみが うごいて いません。かかりの ひとを よんで ください。",
        ),
        "reader",
        True,
    ),
    ProblemCode.NOT_MY_NUMBER_CARD: Entry(
        Text(
            "マイナンバーカードではありません",
            "This is not a My Number Card",
            "マイナンバーカード では ありません",
        ),
        Text(
            "このカードは使えません。マイナンバーカードを入れてください。",
            "This card cannot be used. Please insert your My Number Card.",
            "この カードは つかえません。マイナンバーカードを いれて ください。",
        ),
        "card-wrong",
        True,
    ),
    ProblemCode.CARD_ERROR: Entry(
        Text("カードを読み取れませんでした", "The card could not be read", "カードが よめません"),
        Text(
            "カードを入れ直してください。続く場合は係員をお呼びください。",
            "Please insert the card again. If this keeps happening, ask a member of staff.",
            "カードを もういちど いれて ください。だめなら かかりの ひとを よんで ください。",
        ),
        "card-wrong",
        True,
    ),
    ProblemCode.PIN_FORMAT: Entry(
        Text(
            "暗証番号は数字4桁です", "The PIN is 4 digits", "あんしょうばんごうは すうじ 4つ です"
        ),
        Text(
            "利用者証明用電子証明書の暗証番号(数字4桁)を入力してください。",
            "Enter the 4-digit PIN of the user certificate.",
            "すうじ 4つの あんしょうばんごうを いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PIN_INCORRECT: Entry(
        Text("暗証番号が違います", "Wrong PIN", "あんしょうばんごうが ちがいます"),
        Text(
            "あと{retries}回間違えるとロックされます。",
            "{retries} more wrong tries will lock the card.",
            "あと {retries}かい まちがえると つかえなく なります。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PIN_UNCONFIRMED: Entry(
        Text(
            "カードが暗証番号を確認できませんでした",
            "The card did not confirm your PIN",
            "カードが あんしょうばんごうを たしかめられませんでした",
        ),
        Text(
            "暗証番号は一度だけ送り、再送していません。回数が1回減った可能性があります。"
            "カードを入れ直して、もう一度お試しください。",
            "Your PIN was sent once and not again; one try may have been used. "
            "Please insert the card again and start over.",
            "あんしょうばんごうは 1かいだけ おくりました。カードを もういちど いれて "
            "はじめから やりなおして ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PASSWORD_UNCONFIRMED: Entry(
        Text(
            "カードがパスワードを確認できませんでした",
            "The card did not confirm your password",
            "カードが パスワードを たしかめられませんでした",
        ),
        Text(
            "パスワードは一度だけ送り、再送していません。回数が1回減った可能性があります。"
            "カードを入れ直して、もう一度お試しください。",
            "Your password was sent once and not again; one try may have been used. "
            "Please insert the card again and start over.",
            "パスワードは 1かいだけ おくりました。カードを もういちど いれて "
            "はじめから やりなおして ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PIN_BLOCKED: Entry(
        Text(
            "暗証番号がロックされています",
            "The PIN is locked",
            "あんしょうばんごうが ロック されて います",
        ),
        _RESET_WHERE,
        "blocked",
        False,
    ),
    ProblemCode.PASSWORD_FORMAT: Entry(
        Text(
            "パスワードは英大文字と数字6〜16文字です",
            "The password is 6–16 letters A–Z and digits",
            "パスワードは えいご の おおもじと すうじ 6〜16もじ です",
        ),
        Text(
            "署名用電子証明書のパスワードを入力してください。",
            "Enter the password of the signature certificate.",
            "しょめいよう の パスワードを いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PASSWORD_INCORRECT: Entry(
        Text("パスワードが違います", "Wrong password", "パスワードが ちがいます"),
        Text(
            "あと{retries}回間違えるとロックされます。",
            "{retries} more wrong tries will lock the password.",
            "あと {retries}かい まちがえると つかえなく なります。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PASSWORD_BLOCKED: Entry(
        Text(
            "パスワードがロックされています",
            "The password is locked",
            "パスワードが ロック されて います",
        ),
        _RESET_WHERE,
        "blocked",
        False,
    ),
    ProblemCode.NO_SIGN_CERT: Entry(
        Text(
            "署名用電子証明書がありません",
            "No signature certificate",
            "しょめいよう の しょうめいしょが ありません",
        ),
        Text(
            "このカードには署名用電子証明書がないため、登録できません。市区町村の窓口で発行できます。",
            "This card has no signature certificate, so it cannot be registered. "
            "Your municipal office can issue one.",
            "この カードでは とうろく できません。市役所などの まどぐちで そうだん して ください。",
        ),
        "card-wrong",
        False,
    ),
    ProblemCode.CERT_EXPIRED: Entry(
        Text(
            "電子証明書の有効期限が切れています",
            "The certificate has expired",
            "しょうめいしょの きげんが きれて います",
        ),
        Text(
            "有効期限が切れた電子証明書は使えません。マイナンバーカードと暗証番号を持って、"
            "お住まいの市区町村の窓口で電子証明書を更新してから、もう一度お試しください。",
            "An expired certificate cannot be used. Take your card and its PINs to your "
            "municipal office to renew the certificate, then try again.",
            "きげんが きれた しょうめいしょは つかえません。カードと あんしょうばんごうを もって、"
            "市役所などの まどぐちで あたらしく してから、もういちど して ください。",
        ),
        "expired",
        False,
    ),
    ProblemCode.CERT_NOT_YET_VALID: Entry(
        Text(
            "電子証明書がまだ有効ではありません",
            "The certificate is not valid yet",
            "しょうめいしょは まだ つかえません",
        ),
        Text(
            "しばらくしてからお試しください。続く場合は係員をお呼びください。",
            "Please try again later. If this keeps happening, ask a member of staff.",
            "あとで もういちど して ください。",
        ),
        "expired",
        False,
    ),
    ProblemCode.CERT_REVOKED: Entry(
        Text(
            "電子証明書が失効しています",
            "The certificate has been revoked",
            "しょうめいしょが つかえなく なって います",
        ),
        Text(
            "住所・氏名の変更などで失効した可能性があります。市区町村の窓口にお問い合わせください。",
            "It may have been revoked after a change of name or address. "
            "Please ask at your municipal office.",
            "じゅうしょや なまえが かわると つかえなく なります。"
            "市役所などの まどぐちで きいて ください。",
        ),
        "blocked",
        False,
    ),
    ProblemCode.UNTRUSTED_ISSUER: Entry(
        _VERIFY_FAILED_TITLE,
        Text(
            "発行元を確認できない電子証明書です。係員をお呼びください。",
            "The certificate's issuer is not trusted here. Please ask a member of staff.",
            "この しょうめいしょは つかえません。かかりの ひとを よんで ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.BAD_CERTIFICATE: Entry(
        _VERIFY_FAILED_TITLE,
        Text(
            "電子証明書の内容が正しくありません。係員をお呼びください。",
            "The certificate is not in the expected form. Please ask a member of staff.",
            "この しょうめいしょは つかえません。かかりの ひとを よんで ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.BAD_SIGNATURE: Entry(
        _VERIFY_FAILED_TITLE,
        Text(
            "カードの署名を確認できませんでした。もう一度お試しください。",
            "The card's signature could not be checked. Please try again.",
            "カードの しょめいが たしかめられません。もういちど して ください。",
        ),
        "error",
        True,
    ),
    ProblemCode.CHALLENGE_INVALID: Entry(
        Text("時間切れです", "The request timed out", "じかんぎれ です"),
        Text(
            "手続きの有効時間が過ぎました。もう一度お試しください。",
            "The request expired. Please try again.",
            "じかんが すぎました。もういちど して ください。",
        ),
        "expired",
        True,
    ),
    ProblemCode.REVOCATION_UNKNOWN: Entry(
        Text(
            "失効情報を確認できません",
            "Revocation status unavailable",
            "いま たしかめる ことが できません",
        ),
        Text(
            "電子証明書の失効情報が最新ではありません。係員をお呼びください。",
            "The revocation list is out of date. Please ask a member of staff.",
            "いまは つかえません。かかりの ひとを よんで ください。",
        ),
        "network",
        False,
    ),
    ProblemCode.NEEDS_REENROLMENT: Entry(
        Text("再登録が必要です", "Please register again", "もういちど とうろく して ください"),
        Text(
            "カードが更新されたため、もう一度登録が必要です。署名用パスワードをご用意ください。",
            "Your card or certificate was renewed, so the link must be registered again. "
            "You will need the signature password.",
            "カードが あたらしく なりました。もういちど とうろく します。"
            "パスワードを よういして ください。",
        ),
        "card",
        True,
    ),
    ProblemCode.ENROLMENT_MISMATCH: Entry(
        Text("登録できませんでした", "Registration failed", "とうろく できません でした"),
        Text(
            "2つの電子証明書が同じカードのものと確認できませんでした。係員をお呼びください。",
            "The two certificates could not be matched to one card. Please ask a member of staff.",
            "とうろく できません。かかりの ひとを よんで ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.NO_RECORD: Entry(
        Text("登録できませんでした", "Registration failed", "とうろく できません でした"),
        Text(
            "こちらではまだ患者として登録されていません。受付で登録をお願いします。",
            "You are not registered here yet. Please register at the reception counter.",
            "まだ ここに とうろく されて いません。うけつけで とうろく して ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.RECORD_MISMATCH: Entry(
        Text("登録できませんでした", "Registration failed", "とうろく できません でした"),
        Text(
            "カードの情報と登録内容を確認できませんでした。受付にお申し出ください。",
            "Your card could not be matched to your record here. Please ask at the "
            "reception counter.",
            "カードと とうろくの じょうほうを たしかめられません でした。"
            "うけつけで はなして ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.LINK_EXISTS: Entry(
        Text("登録できませんでした", "Registration failed", "とうろく できません でした"),
        Text(
            "このカードはすでに別の利用者番号で登録されています。係員をお呼びください。",
            "This card is already registered to another account here. "
            "Please ask a member of staff.",
            "この カードは もう べつの ばんごうで とうろく されています。"
            "かかりの ひとを よんで ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.PLATFORM_UNREACHABLE: Entry(
        Text("サーバーに接続できません", "Cannot reach the server", "サーバーに つながりません"),
        Text(
            "通信できませんでした。しばらくしてからもう一度お試しください。",
            "The connection failed. Please try again in a moment.",
            "つうしん できません。すこし まって もういちど して ください。",
        ),
        "network",
        True,
    ),
    ProblemCode.KIOSK_NOT_REGISTERED: Entry(
        Text(
            "この端末ではこの手続きを利用できません",
            "This kiosk is not registered for this service",
            "この きかいでは この てつづきが できません",
        ),
        Text(
            "この端末は、この手続きの確認サービスに登録されていません。係員をお呼びください。",
            "This kiosk is not registered for this service at the verification service. "
            "Please call a member of staff.",
            "この きかいは この てつづきに つかえるように なって いません。"
            "かかりの ひとを よんで ください。",
        ),
        "blocked",
        False,
    ),
    ProblemCode.KIOSK_CREDENTIAL_REFUSED: Entry(
        Text(
            "この端末は確認サービスに受け付けられていません",
            "The verification service does not accept this kiosk",
            "この きかいは いま つかえません",
        ),
        Text(
            "この端末の利用登録が無効になっています(取り消しまたは更新)。係員をお呼びください。",
            "This kiosk's registration at the verification service is no longer valid "
            "(revoked or replaced). Please call a member of staff.",
            "この きかいの とうろくが つかえなく なって います。かかりの ひとを よんで ください。",
        ),
        "blocked",
        False,
    ),
    ProblemCode.SERVICE_FAILED: Entry(
        Text(
            "手続きを完了できませんでした",
            "The service could not finish",
            "てつづきが できません でした",
        ),
        Text(
            "もう一度お試しください。続く場合は係員をお呼びください。",
            "Please try again. If this keeps happening, ask a member of staff.",
            "もういちど して ください。だめなら かかりの ひとを よんで ください。",
        ),
        "error",
        True,
    ),
    ProblemCode.STAFF_PIN_WRONG: Entry(
        Text(
            "係員番号または暗証番号が違います",
            "Wrong staff number or PIN",
            "かかりいんの ばんごうか あんしょうばんごうが ちがいます",
        ),
        Text(
            "係員番号から入力し直してください。",
            "Please enter your staff number again.",
            "かかりいんの ばんごうから もういちど いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.STAFF_FORMAT: Entry(
        Text(
            "番号の桁数を確認してください",
            "Please check the number of digits",
            "ばんごうの けたを たしかめて ください",
        ),
        Text(
            "係員番号は数字10桁まで、暗証番号は数字6〜12桁です。",
            "The staff number is up to 10 digits; the PIN is 6 to 12 digits.",
            "かかりいんの ばんごうは すうじ 10こ まで、あんしょうばんごうは 6〜12こ です。",
        ),
        "warning",
        True,
    ),
    ProblemCode.STAFF_LOCKED: Entry(
        Text(
            "係員ログインを一時停止しています",
            "Staff login is paused",
            "かかりいんの ログインを しばらく とめて います",
        ),
        Text(
            "間違いが続いたため、しばらく入力できません。",
            "Too many wrong tries: please wait before trying again.",
            "なんども まちがえたので、しばらく いれられません。",
        ),
        "warning",
        False,
    ),
    ProblemCode.ASSIST_FORMAT: Entry(
        Text(
            "番号を確認してください", "Please check the numbers", "ばんごうを たしかめて ください"
        ),
        Text(
            "保険者番号は数字6桁または8桁、記号・番号は空欄にできません。",
            "The insurer number is 6 or 8 digits; the member number cannot be empty.",
            "ほけんしゃばんごうは すうじ 6つ か 8つ です。",
        ),
        "warning",
        True,
    ),
    ProblemCode.PATIENT_NUMBER_FORMAT: Entry(
        Text("番号を確認してください", "Please check the number", "ばんごうを たしかめて ください"),
        Text(
            "診察券番号は英数字とハイフン（32文字まで）です。",
            "The patient number is letters, digits and hyphens (up to 32).",
            "しんさつけんの ばんごうは えいご と すうじ です。",
        ),
        "warning",
        True,
    ),
    ProblemCode.RECEIPT_FORMAT: Entry(
        Text("番号を確認してください", "Please check the number", "ばんごうを たしかめて ください"),
        Text(
            "領収番号は半角の英数字と記号(空白なし、64文字まで)です。",
            "The receipt number is ASCII letters, digits and symbols (no spaces, up to 64).",
            "りょうしゅうの ばんごうは えいご・すうじ・きごう です(くうはく なし、64もじ まで)。",
        ),
        "warning",
        True,
    ),
    ProblemCode.VOID_UNKNOWN_RECEIPT: Entry(
        Text(
            "この領収番号の支払いはありません",
            "No payment has this receipt number",
            "この ばんごうの しはらいは ありません",
        ),
        Text(
            "レシートの領収番号を確かめて、入力し直してください。何も取り消していません。",
            "Check the receipt number on the receipt and enter it again. Nothing was voided.",
            "レシートの ばんごうを たしかめて、もういちど いれて ください。"
            "なにも とりけして いません。",
        ),
        "warning",
        False,
    ),
    ProblemCode.VOID_NOT_SETTLED: Entry(
        Text(
            "この支払いは取り消せません",
            "This payment cannot be voided",
            "この しはらいは とりけせません",
        ),
        Text(
            "支払いが完了していないため、取り消すものがありません。何も取り消していません。",
            "The payment was never completed, so there is nothing to void. Nothing was voided.",
            "しはらいが おわって いないので、とりけす ものが ありません。",
        ),
        "warning",
        False,
    ),
    ProblemCode.VOID_UNCONFIRMED: Entry(
        Text(
            "カード会社から返事がありません",
            "The card company did not answer",
            "カードがいしゃから へんじが ありません",
        ),
        Text(
            "取り消しはまだ確定していません。もう一度「取り消す」を押してください"
            "(二重には取り消されません)。",
            "The void is not confirmed yet. Press Void again: it is never made twice.",
            "まだ とりけして いません。もういちど「とりけす」を おして ください"
            "(2かい とりけす ことは ありません)。",
        ),
        "network",
        True,
    ),
    ProblemCode.VOID_REFUSED: Entry(
        Text(
            "カード会社が取り消しを断りました",
            "The card company refused the void",
            "カードがいしゃが とりけしを ことわりました",
        ),
        Text(
            "この支払いは取り消していません。カード会社にお問い合わせください。",
            "The payment was not voided. Please contact the card company.",
            "とりけして いません。カードがいしゃに きいて ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.VOID_UNAVAILABLE: Entry(
        Text(
            "いまは取り消しができません",
            "Voids are unavailable now",
            "いまは とりけせません",
        ),
        Text(
            "支払いの記録を使えません。しばらくしてからもう一度お試しください。"
            "続く場合は管理者に連絡してください。",
            "The payment records cannot be used. Please try again in a moment; "
            "if this keeps happening, tell the administrator.",
            "しはらいの きろくが つかえません。すこし まって もういちど して ください。",
        ),
        "network",
        True,
    ),
    ProblemCode.LOGIN_CODE_FORMAT: Entry(
        Text(
            "ログインコードは数字8桁です",
            "The sign-in code is 8 digits",
            "ログインの ばんごうは すうじ 8つ です",
        ),
        Text(
            "スマートフォンやパソコンの画面に出ている8桁の数字を入力してください。",
            "Type the 8 digits shown on your phone or computer.",
            "スマホや パソコンに でている すうじ 8つを いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.LOGIN_CODE_UNKNOWN: Entry(
        Text(
            "このログインコードは見つかりません",
            "This sign-in code was not found",
            "この ばんごうは みつかりません",
        ),
        Text(
            "スマートフォンやパソコンの画面のコードを確かめて、もう一度入力してください。",
            "Check the code on your phone or computer and type it again.",
            "スマホや パソコンの ばんごうを たしかめて、もういちど いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.LOGIN_CODE_EXPIRED: Entry(
        Text(
            "ログインコードの有効期限が切れています",
            "The sign-in code has expired",
            "ばんごうの じかんが すぎました",
        ),
        Text(
            "スマートフォンやパソコンでログインをやり直し、新しいコードを入力してください。",
            "Start the sign-in again on your phone or computer and type the new code.",
            "スマホや パソコンで はじめから して、あたらしい ばんごうを いれて ください。",
        ),
        "expired",
        True,
    ),
    ProblemCode.LOGIN_CODE_USED: Entry(
        Text(
            "このログインコードは使用済みです",
            "This sign-in code has been used",
            "この ばんごうは もう つかわれました",
        ),
        Text(
            "コードは1回だけ使えます。スマートフォンやパソコンでログインをやり直してください。",
            "A code works once only. Start the sign-in again on your phone or computer.",
            "ばんごうは 1かい だけ つかえます。スマホや パソコンで はじめから して ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.LOGIN_CODE_OTHER_PROVIDER: Entry(
        Text(
            "このサービスにはここからログインできません",
            "This service cannot be signed in to here",
            "この サービスには ここから ログイン できません",
        ),
        Text(
            "このコードのサービスは、このキオスクの利用先と連携していません。"
            "コードを確かめるか、サービスの案内をご確認ください。",
            "The code's online service does not sign people in through this kiosk. "
            "Check the code, or the service's own instructions.",
            "この ばんごうの サービスは、この きかいでは つかえません。"
            "ばんごうを たしかめて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.LOGIN_CODE_REFUSED: Entry(
        Text(
            "このログインコードは使えません",
            "This sign-in code cannot be used",
            "この ばんごうは つかえません",
        ),
        Text(
            "コードを確かめて、もう一度入力してください。",
            "Check the code and type it again.",
            "ばんごうを たしかめて、もういちど いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.LOGIN_CODE_RATE_LIMITED: Entry(
        Text(
            "コードの入力を一時停止しています",
            "Code entry is paused",
            "ばんごうを しばらく いれられません",
        ),
        Text(
            "間違ったコードが続いたため、少し待ってから入力してください。",
            "Too many wrong codes were typed here: please wait a little.",
            "まちがいが つづいたので、すこし まってから いれて ください。",
        ),
        "warning",
        True,
    ),
    ProblemCode.LOGIN_CODE_TOO_MANY: Entry(
        Text(
            "ログインコードを確認できませんでした",
            "The sign-in code could not be accepted",
            "ログインの ばんごうが つかえません でした",
        ),
        Text(
            "3回確認できなかったため、手続きを終了しました。スマートフォンやパソコンで"
            "ログインをやり直してから、もう一度お越しください。カードには何も記録していません。",
            "After three codes that could not be used, this visit has ended. Start the sign-in "
            "again on your phone or computer, then come back. Nothing was done with your card.",
            "3かい つかえなかったので おわりました。スマホや パソコンで はじめから して、"
            "もういちど きて ください。",
        ),
        "error",
        False,
    ),
    ProblemCode.INTERNAL: Entry(
        Text("エラーが発生しました", "Something went wrong", "うまく いきません でした"),
        Text(
            "係員をお呼びください。",
            "Please ask a member of staff.",
            "かかりの ひとを よんで ください。",
        ),
        "error",
        True,
    ),
}


def entry(code: ProblemCode) -> Entry:
    """The catalogue entry of a problem (every code has one; a test checks it)."""
    return CATALOGUE[code]
