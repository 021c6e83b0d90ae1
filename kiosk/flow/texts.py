"""Every fixed string of the screens, in ja / en / やさしい日本語 (see kiosk.i18n).

The single source of the screens' words: pages look their labels up here by key
(`BasePage.t`). The errors' texts live in kiosk.flow.errors_catalogue and each service's
with the service (kiosk.services sits below the flow and cannot import it); the same `Text`
type carries all of them, and tests/unit/test_text_catalogue.py checks every one is written
in all three languages.
"""

from __future__ import annotations

from kiosk.i18n import Text

T = Text

TEXTS: dict[str, Text] = {
    # frame
    "lang.ja": T("日本語", "日本語", "日本語"),
    "lang.en": T("English", "English", "English"),
    "lang.easy": T("やさしい日本語", "やさしい日本語", "やさしい日本語"),
    "contrast": T("見やすい表示", "High contrast", "みやすく する"),
    "idle.countdown": T(
        "操作がないため、あと{seconds}秒で最初の画面に戻ります",
        "No activity: returning to the start in {seconds} s",
        "あと {seconds}びょうで はじめの がめんに もどります",
    ),
    "button.back": T("戻る", "Back", "もどる"),
    "button.cancel": T("中止", "Cancel", "やめる"),
    "button.ok": T("確定", "OK", "けってい"),
    "button.done": T("終了", "Finish", "おわる"),
    "button.retry": T("もう一度", "Try again", "もういちど"),
    "button.clear": T("訂正", "Clear", "けす"),
    "button.delete": T("1文字消す", "Delete", "1つ けす"),
    "button.call_staff": T("係員を呼ぶ", "Call staff", "かかりの ひとを よぶ"),
    "staff.called": T(
        "係員を呼びました。そのままお待ちください。",
        "A member of staff is on the way. Please wait.",
        "かかりの ひとを よびました。まって いて ください。",
    ),
    "staff.calling": T(
        "係員を呼んでいます…",
        "Calling a member of staff…",
        "かかりの ひとを よんで います…",
    ),
    "staff.not_delivered": T(
        "係員を呼び出せませんでした。お手数ですが、受付までお越しください。",
        "Staff could not be reached. Please go to the reception counter.",
        "かかりの ひとを よべません でした。うけつけまで きて ください。",
    ),
    "staff.no_channel": T(
        "お手数ですが、受付までお越しください。係員がご案内します。",
        "Please go to the reception counter: a member of staff will help you there.",
        "うけつけまで きて ください。かかりの ひとが てつだいます。",
    ),
    # attract
    "attract.title": T(
        "マイナンバーカードで手続き",
        "Services with your My Number Card",
        "マイナンバーカードで てつづき",
    ),
    "attract.touch": T(
        "画面にタッチして始めてください",
        "Touch the screen to start",
        "がめんに さわって はじめて ください",
    ),
    # pickers
    "services.title": T(
        "手続きを選んでください", "Choose a service", "てつづきを えらんで ください"
    ),
    "providers.title": T(
        "利用先を選んでください", "Choose where", "どこの てつづきか えらんで ください"
    ),
    # insert card
    "insert.title": T(
        "マイナンバーカードを置いてください",
        "Please insert your My Number Card",
        "マイナンバーカードを おいて ください",
    ),
    "insert.hint": T(
        "カードの向きは絵のとおりです。手続きが終わるまで抜かないでください。",
        "Face up, as shown. Leave it in until the end.",
        "えの ように おいて ください。おわるまで ぬかないで ください。",
    ),
    "reader.no_service": T(
        "カードサービス停止中", "Card service not running", "カードの しくみが とまって います"
    ),
    "reader.no_reader": T(
        "カードリーダーがありません", "No card reader", "カードを よむ きかいが ありません"
    ),
    "reader.ready": T("カードリーダー準備完了", "Reader ready", "じゅんび できました"),
    "reader.card": T("カードを確認しました", "Card detected", "カードが ありました"),
    "reader.not_my_number": T(
        "マイナンバーカードではありません",
        "Not a My Number Card",
        "マイナンバーカード では ありません",
    ),
    "reading.title": T("カードを確認しています", "Checking the card", "カードを しらべて います"),
    # PIN
    "pin.title": T(
        "利用者証明用暗証番号(数字4桁)を入力してください",
        "Enter your 4-digit PIN (user certificate)",
        "あんしょうばんごう(すうじ 4つ)を いれて ください",
    ),
    "pin.retries": T("残り{retries}回", "{retries} tries left", "あと {retries}かい"),
    "pin.last_try": T(
        "あと1回間違えるとロックされます。分からない場合は係員にご相談ください。",
        "One more wrong PIN locks the card. If you are unsure, ask a member of staff.",
        "あと 1かい まちがえると つかえなく なります。"
        "わからない ときは かかりの ひとに きいて ください。",
    ),
    "pin.shield": T(
        "手元を隠して入力してください",
        "Shield the keypad as you type",
        "てで かくして いれて ください",
    ),
    # tokens other than the card (issue 16): phones, face-authentication cards
    "pin.phone": T(
        "スマートフォンに設定した暗証番号(数字4桁)です。カードの暗証番号とは別です。",
        "Use the 4-digit PIN you set on your phone; it is not your card's PIN.",
        "スマホで きめた あんしょうばんごう(すうじ 4つ)です。カードの ばんごうとは ちがいます。",
    ),
    "work.confirm_phone": T(
        "iPhoneで確認しています", "Checking with your iPhone", "iPhoneで しらべて います"
    ),
    "phone_confirm.title": T(
        "iPhoneで本人確認をしてください",
        "Please confirm on your iPhone",
        "iPhoneで ほんにんかくにんを して ください",
    ),
    "phone_confirm.text": T(
        "サイドボタンを2回押し、Face ID(またはTouch ID)で確認してから、"
        "iPhoneを読み取り機に当てたまま「確認しました」を押してください。",
        "Double-click the side button and confirm with Face ID (or Touch ID), then keep the "
        "iPhone on the reader and press “I have confirmed”.",
        "よこの ボタンを 2かい おして、かおで たしかめて ください。"
        "iPhoneを よみとりきに おいた まま「たしかめました」を おして ください。",
    ),
    "phone_confirm.done": T("確認しました", "I have confirmed", "たしかめました"),
    "token.face_auth.title": T(
        "このカードはこの端末では使えません",
        "This card cannot be used at this kiosk",
        "この カードは ここでは つかえません",
    ),
    "token.face_auth.text": T(
        "顔認証マイナンバーカード(暗証番号なし)、または暗証番号がロックされたカードです。"
        "受付の顔認証付きカードリーダーをご利用いただくか、暗証番号を設定したカードで"
        "お手続きください。暗証番号の設定・ロック解除はお住まいの市区町村の窓口でできます。"
        "係員もお手伝いします。",
        "This is a face-authentication My Number Card (no PIN), or a card whose PIN is "
        "locked. Please use the face-recognition card reader at reception, or a card with a "
        "PIN. Your municipal office can set a PIN or unlock it. A member of staff can also "
        "help you.",
        "かおで たしかめる カード(あんしょうばんごう なし)か、ばんごうが ロックされた "
        "カードです。うけつけの かおで たしかめる きかいを つかうか、ばんごうの ある カードを "
        "つかって ください。ばんごうは しやくしょで きめられます。かかりの ひとも てつだいます。",
    ),
    "token.phones_off.title": T(
        "スマートフォンはこの端末では使えません",
        "Phones cannot be used at this kiosk",
        "スマホは ここでは つかえません",
    ),
    "token.phones_off.text": T(
        "マイナンバーカードをお使いください。カードがない場合は係員にお声がけください。",
        "Please use your My Number Card. If you do not have it with you, ask a member of staff.",
        "マイナンバーカードを つかって ください。カードが ない ときは かかりの ひとに "
        "いって ください。",
    ),
    "token.unknown.title": T(
        "この種類のカードには対応していません",
        "This type of card is not supported here",
        "この しゅるいの カードは つかえません",
    ),
    "token.unknown.text": T(
        "マイナンバーカードをお使いください。分からない場合は係員にお声がけください。",
        "Please use your My Number Card. If you are unsure, ask a member of staff.",
        "マイナンバーカードを つかって ください。わからない ときは かかりの ひとに "
        "きいて ください。",
    ),
    "token.iphone_enrol.title": T(
        "iPhoneでは登録できません",
        "Registration is not possible with an iPhone",
        "iPhoneでは とうろく できません",
    ),
    "token.iphone_enrol.text": T(
        "はじめての登録には署名用パスワードが必要です。マイナンバーカード(またはAndroidの"
        "スマートフォン)で登録してください。係員もお手伝いします。",
        "The first registration needs the signature password. Please register with your "
        "My Number Card (or an Android phone). A member of staff can also help you.",
        "はじめての とうろくには パスワードが いります。マイナンバーカードで とうろく して "
        "ください。かかりの ひとも てつだいます。",
    ),
    "put_back.title": T(
        "カードを戻してください", "Please put the card back", "カードを もどして ください"
    ),
    "put_back.text": T(
        "あと{seconds}秒で手続きを中止します",
        "The procedure stops in {seconds} s",
        "あと {seconds}びょうで やめます",
    ),
    # password
    "password.title": T(
        "署名用電子証明書のパスワードを入力してください",
        "Enter the password of your signature certificate",
        "しょめいよう の パスワードを いれて ください",
    ),
    "password.why": T(
        "初めてのご利用のため登録します。パスワードは英大文字と数字の6〜16文字です。",
        "First visit: your card will be registered. The password is 6–16 letters A–Z and digits.",
        "はじめて なので とうろく します。えいごの おおもじと すうじで 6〜16もじ です。",
    ),
    # binding code (login)
    "code.title": T(
        "スマートフォンやパソコンに表示されたログインコード(数字8桁)を入力してください",
        "Type the 8-digit sign-in code shown on your phone or computer",
        "スマホや パソコンに でている ログインの ばんごう(すうじ 8つ)を いれて ください",
    ),
    "code.hint": T(
        "コードは、ログインするサービスの画面に表示されています。数分で使えなくなります。",
        "The code is on the sign-in page of the service you are signing in to. "
        "It works for a few minutes only.",
        "ばんごうは ログイン する サービスの がめんに でて います。すぐ つかえなく なります。",
    ),
    "code.wait": T(
        "あと{seconds}秒お待ちください",
        "Please wait {seconds} s",
        "あと {seconds}びょう まって ください",
    ),
    # review / consent
    "review.title": T(
        "カードから読み取った内容を確認してください",
        "Check the details read from your card",
        "カードの なかみを たしかめて ください",
    ),
    "review.name": T("氏名", "Name", "なまえ"),
    "review.address": T("住所", "Address", "じゅうしょ"),
    "review.birth_date": T("生年月日", "Date of birth", "うまれた ひ"),
    "review.sex": T("性別", "Sex", "せいべつ"),
    "review.ok": T("内容は正しい", "These are correct", "ただしい"),
    "sex.male": T("男性", "Male", "おとこ"),
    "sex.female": T("女性", "Female", "おんな"),
    "sex.unknown": T("不明", "Not stated", "わからない"),
    "enrol_consent.title": T("登録への同意", "Consent to register", "とうろく しても いいですか"),
    "enrol_consent.text": T(
        "このカードの利用者証明用電子証明書を、この利用先のアカウントに登録します。"
        "氏名・住所などの情報は保存しません。",
        "The card's user certificate will be linked to your account here. "
        "Your name, address and other details are not stored.",
        "この カードを ここの アカウントに とうろく します。なまえや じゅうしょは のこしません。",
    ),
    "consent.agree": T("同意する", "I agree", "はい"),
    "consent.decline": T("同意しない", "I do not agree", "いいえ"),
    "service_consent.title": T(
        "提供する情報を選んでください",
        "Choose what may be shared",
        "みせても いい ものを えらんで ください",
    ),
    "service_consent.required": T("(必須)", "(required)", "(ひつよう)"),
    "service_consent.check_title": T(
        "内容をご確認ください", "Please check the details", "ないようを たしかめて ください"
    ),
    # working
    "work.read_card": T("カードを確認しています", "Checking the card", "カードを しらべて います"),
    "work.authenticate": T(
        "本人確認をしています", "Checking your identity", "ほんにんか しらべて います"
    ),
    "work.read_signer": T(
        "署名用電子証明書を読み取っています",
        "Reading the signature certificate",
        "カードを よんで います",
    ),
    "work.enrol": T("登録しています", "Registering", "とうろく して います"),
    "work.prepare": T("内容を確認しています", "Getting the details", "ないようを しらべて います"),
    "work.run_service": T("手続きをしています", "Processing", "てつづき して います"),
    "work.assisted": T("記録しています", "Recording", "きろく して います"),
    "work.keep_card": T(
        "カードを抜かないでください", "Do not remove the card", "カードを ぬかないで ください"
    ),
    # result / take card
    "result.expiry_ahead": T(
        "利用者証明用電子証明書の有効期限は{date}です(あと{days}日)。"
        "有効期限の3か月前から、マイナンバーカードと暗証番号を持って、"
        "お住まいの市区町村の窓口で更新できます。",
        "Your card's user certificate expires on {date} ({days} days left). From three months "
        "before, you can renew it at your municipal office: bring the card and its PINs.",
        "カードの しょうめいしょの きげんは {date} です(あと {days}にち)。"
        "きげんの 3かげつ まえから、カードと あんしょうばんごうを もって、"
        "市役所などの まどぐちで あたらしく できます。",
    ),
    "take_card.title": T(
        "カードをお取りください", "Please take your card", "カードを とって ください"
    ),
    "take_card.text": T(
        "お忘れ物にご注意ください", "Do not forget your card", "わすれないで ください"
    ),
    # staff
    "staff.login": T(
        "係員番号を入力してください",
        "Enter your staff number",
        "かかりいんの ばんごうを いれて ください",
    ),
    "staff.login.pin": T(
        "係員番号 {staff_id}:暗証番号を入力してください",
        "Staff number {staff_id}: enter your PIN",
        "かかりいんの ばんごう {staff_id}:あんしょうばんごうを いれて ください",
    ),
    "staff.login.checking": T("確認しています…", "Checking…", "しらべて います…"),
    "staff.locked": T(
        "あと{seconds}秒お待ちください",
        "Try again in {seconds} s",
        "あと {seconds}びょう まって ください",
    ),
    "staff.menu": T("係員メニュー", "Staff menu", "かかりいん メニュー"),
    "staff.exit": T("キオスクを終了", "Close the kiosk", "おわる"),
    "staff.assist": T(
        "係員による本人確認(暗証番号を使えない方)",
        "Staff-assisted check (for people who cannot use a PIN)",
        "かかりの ひとが たしかめる",
    ),
    "staff.reader": T(
        "カードリーダー: {status}", "Card reader: {status}", "カードを よむ きかい: {status}"
    ),
    "staff.assist.title": T(
        "目視で本人確認のうえ、保険者番号と記号・番号を入力してください",
        "After checking the person's identity by sight, enter insurer and member numbers",
        "めで たしかめてから ばんごうを いれて ください",
    ),
    "staff.insurer": T("保険者番号", "Insurer number", "ほけんしゃ ばんごう"),
    "staff.member": T("記号・番号", "Member number", "きごう・ばんごう"),
    "staff.confirm": T(
        "本人確認済みとして記録", "Record as checked by staff", "たしかめた ことを きろく"
    ),
    "staff.link": T(
        "診察券番号でカードを登録",
        "Link a card to a patient number",
        "しんさつけんの ばんごうで カードを とうろく",
    ),
    "staff.link.title": T(
        "ご本人と確認した診察券番号を入力してください。次にご本人がカードを置き、"
        "暗証番号とパスワードを入力します",
        "Enter the patient number you confirmed with the person; they then insert their card "
        "and enter their PIN and password",
        "ほんにんと たしかめた しんさつけんの ばんごうを いれて ください。"
        "つぎに ほんにんが カードを おきます",
    ),
    "staff.patient_number": T("診察券番号", "Patient number", "しんさつけんの ばんごう"),
    "staff.link.confirm": T("次へ(ご本人の操作)", "Next: the person's turn", "つぎへ"),
    "staff.void": T("支払いの取消", "Void a payment", "しはらいを とりけす"),
    "staff.void.title": T(
        "取り消す支払いの領収番号を入力してください",
        "Enter the receipt number of the payment to void",
        "とりけす しはらいの りょうしゅう ばんごうを いれて ください",
    ),
    "staff.receipt_no": T("領収番号", "Receipt number", "りょうしゅう ばんごう"),
    "staff.void.next": T("次へ", "Next", "つぎへ"),
    "staff.void.confirm_title": T(
        "領収番号 {receipt_no} の支払いを取り消します。よろしいですか。",
        "Void the payment with receipt number {receipt_no}?",
        "りょうしゅう ばんごう {receipt_no} の しはらいを とりけします。いいですか。",
    ),
    "staff.void.confirm": T("取り消す", "Void", "とりけす"),
    "staff.void.working": T("取り消しています…", "Voiding…", "とりけして います…"),
    "staff.void.done": T(
        "取り消しました: 領収番号 {receipt_no}、{amount}",
        "Voided: receipt {receipt_no}, {amount}",
        "とりけしました: りょうしゅう ばんごう {receipt_no}、{amount}",
    ),
    "staff.void.again": T(
        "取り消し済みです(今回は何も変えていません): 領収番号 {receipt_no}、{amount}",
        "Already voided (nothing changed now): receipt {receipt_no}, {amount}",
        "もう とりけして あります: りょうしゅう ばんごう {receipt_no}、{amount}",
    ),
    "staff.void.menu": T("係員メニューへ", "Back to the staff menu", "かかりいん メニューへ"),
    # accessibility (issue 17): the frame's toggles, and what a screen reader is told
    "large_text": T("文字を大きく", "Larger text", "もじを おおきく"),
    "more_time": T("時間を延ばす", "More time", "じかんを のばす"),
    "a11y.more_time": T(
        "残り時間を2倍にします", "Doubles the time you have", "じかんを 2ばいに します"
    ),
    "a11y.large_text": T(
        "画面の文字を大きくします",
        "Makes the text on every screen larger",
        "もじを おおきく します",
    ),
    "a11y.contrast": T(
        "文字と背景の色の差を大きくします",
        "Stronger contrast between text and background",
        "いろを はっきり させます",
    ),
    "a11y.lang.ja": T("日本語で表示します", "Show the screens in Japanese", "にほんごに します"),
    "a11y.lang.en": T("英語で表示します", "Show the screens in English", "えいごに します"),
    "a11y.lang.easy": T(
        "やさしい日本語で表示します",
        "Show the screens in plain Japanese",
        "やさしい にほんごに します",
    ),
    "a11y.pad.digits": T(
        "{max}桁中{count}桁入力済み",
        "{count} of {max} digits entered",
        "{max}けたの うち {count}けた いれました",
    ),
    "a11y.pad.chars": T(
        "{count}文字入力済み(最大{max}文字)",
        "{count} characters entered (up to {max})",
        "{count}もじ いれました(いちばん おおくて {max}もじ)",
    ),
    "a11y.pad.code": T("入力した番号: {code}", "Code typed: {code}", "いれた ばんごう: {code}"),
    "a11y.pad.code_empty": T(
        "番号はまだ入力されていません", "No code typed yet", "まだ ばんごうを いれて いません"
    ),
    "a11y.pad.key": T("キー", "Key", "キー"),
    "a11y.progress": T("{of}段階中{step}段階目", "Step {step} of {of}", "{of}の うち {step}ばんめ"),
    "a11y.icon.insert_card": T(
        "カードを差し込む絵", "Picture: a card going into the reader", "カードを いれる え"
    ),
    "a11y.icon.take_card": T("カードを取る絵", "Picture: taking the card out", "カードを とる え"),
    "a11y.icon.card_removed": T(
        "カードが抜かれた絵", "Picture: the card is out of the reader", "カードが ぬけた え"
    ),
    "a11y.icon.card_wrong": T("違うカードの絵", "Picture: a wrong card", "ちがう カードの え"),
    "a11y.icon.card": T("カードの絵", "Picture: a card", "カードの え"),
    "a11y.icon.ok": T("完了の印", "Done mark", "できた しるし"),
    "a11y.icon.error": T("エラーの印", "Error mark", "うまく いかない しるし"),
    "a11y.icon.blocked": T("ロックの印", "Locked mark", "つかえない しるし"),
    "a11y.icon.expired": T("期限切れの印", "Expired mark", "きげんが きれた しるし"),
    "a11y.icon.network": T("通信の印", "Network mark", "つうしんの しるし"),
    "a11y.icon.reader": T("カードリーダーの印", "Card reader mark", "カードリーダーの しるし"),
    "a11y.icon.warning": T("注意の印", "Warning mark", "ちゅういの しるし"),
}


def text(key: str) -> Text:
    """The screen string with that key (every key used by the UI is here; a test checks)."""
    return TEXTS[key]
