<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="ja">
<context>
    <name>kiosk</name>
    <message>
        <source>マイナンバーカードで手続き</source>
        <comment>attract.title</comment>
        <translation>Services with your My Number Card</translation>
    </message>
    <message>
        <source>画面にタッチして始めてください</source>
        <comment>attract.touch</comment>
        <translation>Touch the screen to start</translation>
    </message>
    <message>
        <source>戻る</source>
        <comment>button.back</comment>
        <translation>Back</translation>
    </message>
    <message>
        <source>係員を呼ぶ</source>
        <comment>button.call_staff</comment>
        <translation>Call staff</translation>
    </message>
    <message>
        <source>中止</source>
        <comment>button.cancel</comment>
        <translation>Cancel</translation>
    </message>
    <message>
        <source>訂正</source>
        <comment>button.clear</comment>
        <translation>Clear</translation>
    </message>
    <message>
        <source>1文字消す</source>
        <comment>button.delete</comment>
        <translation>Delete</translation>
    </message>
    <message>
        <source>終了</source>
        <comment>button.done</comment>
        <translation>Finish</translation>
    </message>
    <message>
        <source>確定</source>
        <comment>button.ok</comment>
        <translation>OK</translation>
    </message>
    <message>
        <source>もう一度</source>
        <comment>button.retry</comment>
        <translation>Try again</translation>
    </message>
    <message>
        <source>同意する</source>
        <comment>consent.agree</comment>
        <translation>I agree</translation>
    </message>
    <message>
        <source>同意しない</source>
        <comment>consent.decline</comment>
        <translation>I do not agree</translation>
    </message>
    <message>
        <source>見やすい表示</source>
        <comment>contrast</comment>
        <translation>High contrast</translation>
    </message>
    <message>
        <source>このカードの利用者証明用電子証明書を、この利用先のアカウントに登録します。氏名・住所などの情報は保存しません。</source>
        <comment>enrol_consent.text</comment>
        <translation>The card's user certificate will be linked to your account here. Your name, address and other details are not stored.</translation>
    </message>
    <message>
        <source>登録への同意</source>
        <comment>enrol_consent.title</comment>
        <translation>Consent to register</translation>
    </message>
    <message>
        <source>操作がないため、あと{seconds}秒で最初の画面に戻ります</source>
        <comment>idle.countdown</comment>
        <translation>No activity: returning to the start in {seconds} s</translation>
    </message>
    <message>
        <source>カードの向きは絵のとおりです。手続きが終わるまで抜かないでください。</source>
        <comment>insert.hint</comment>
        <translation>Face up, as shown. Leave it in until the end.</translation>
    </message>
    <message>
        <source>マイナンバーカードを置いてください</source>
        <comment>insert.title</comment>
        <translation>Please insert your My Number Card</translation>
    </message>
    <message>
        <source>やさしい日本語</source>
        <comment>lang.easy</comment>
        <translation>やさしい日本語</translation>
    </message>
    <message>
        <source>English</source>
        <comment>lang.en</comment>
        <translation>English</translation>
    </message>
    <message>
        <source>日本語</source>
        <comment>lang.ja</comment>
        <translation>日本語</translation>
    </message>
    <message>
        <source>署名用電子証明書のパスワードを入力してください</source>
        <comment>password.title</comment>
        <translation>Enter the password of your signature certificate</translation>
    </message>
    <message>
        <source>初めてのご利用のため登録します。パスワードは英大文字と数字の6〜16文字です。</source>
        <comment>password.why</comment>
        <translation>First visit: your card will be registered. The password is 6–16 letters A–Z and digits.</translation>
    </message>
    <message>
        <source>あと1回間違えるとロックされます。分からない場合は係員にご相談ください。</source>
        <comment>pin.last_try</comment>
        <translation>One more wrong PIN locks the card. If you are unsure, ask a member of staff.</translation>
    </message>
    <message>
        <source>残り{retries}回</source>
        <comment>pin.retries</comment>
        <translation>{retries} tries left</translation>
    </message>
    <message>
        <source>手元を隠して入力してください</source>
        <comment>pin.shield</comment>
        <translation>Shield the keypad as you type</translation>
    </message>
    <message>
        <source>利用者証明用暗証番号(数字4桁)を入力してください</source>
        <comment>pin.title</comment>
        <translation>Enter your 4-digit PIN (user certificate)</translation>
    </message>
    <message>
        <source>保険者番号は数字6桁または8桁、記号・番号は空欄にできません。</source>
        <comment>problem.assist_format.text</comment>
        <translation>The insurer number is 6 or 8 digits; the member number cannot be empty.</translation>
    </message>
    <message>
        <source>番号を確認してください</source>
        <comment>problem.assist_format.title</comment>
        <translation>Please check the numbers</translation>
    </message>
    <message>
        <source>電子証明書の内容が正しくありません。係員をお呼びください。</source>
        <comment>problem.bad_certificate.text</comment>
        <translation>The certificate is not in the expected form. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>電子証明書を確認できませんでした</source>
        <comment>problem.bad_certificate.title</comment>
        <translation>The certificate could not be accepted</translation>
    </message>
    <message>
        <source>カードの署名を確認できませんでした。もう一度お試しください。</source>
        <comment>problem.bad_signature.text</comment>
        <translation>The card's signature could not be checked. Please try again.</translation>
    </message>
    <message>
        <source>電子証明書を確認できませんでした</source>
        <comment>problem.bad_signature.title</comment>
        <translation>The certificate could not be accepted</translation>
    </message>
    <message>
        <source>カードを入れ直してください。続く場合は係員をお呼びください。</source>
        <comment>problem.card_error.text</comment>
        <translation>Please insert the card again. If this keeps happening, ask a member of staff.</translation>
    </message>
    <message>
        <source>カードを読み取れませんでした</source>
        <comment>problem.card_error.title</comment>
        <translation>The card could not be read</translation>
    </message>
    <message>
        <source>手続きを中止しました。最初からやり直してください。</source>
        <comment>problem.card_removed.text</comment>
        <translation>The procedure was stopped. Please start again.</translation>
    </message>
    <message>
        <source>カードが抜かれました</source>
        <comment>problem.card_removed.title</comment>
        <translation>The card was removed</translation>
    </message>
    <message>
        <source>市区町村の窓口で電子証明書を更新してください。</source>
        <comment>problem.cert_expired.text</comment>
        <translation>Please renew the certificate at your municipal office.</translation>
    </message>
    <message>
        <source>電子証明書の有効期限が切れています</source>
        <comment>problem.cert_expired.title</comment>
        <translation>The certificate has expired</translation>
    </message>
    <message>
        <source>しばらくしてからお試しください。続く場合は係員をお呼びください。</source>
        <comment>problem.cert_not_yet_valid.text</comment>
        <translation>Please try again later. If this keeps happening, ask a member of staff.</translation>
    </message>
    <message>
        <source>電子証明書がまだ有効ではありません</source>
        <comment>problem.cert_not_yet_valid.title</comment>
        <translation>The certificate is not valid yet</translation>
    </message>
    <message>
        <source>住所・氏名の変更などで失効した可能性があります。市区町村の窓口にお問い合わせください。</source>
        <comment>problem.cert_revoked.text</comment>
        <translation>It may have been revoked after a change of name or address. Please ask at your municipal office.</translation>
    </message>
    <message>
        <source>電子証明書が失効しています</source>
        <comment>problem.cert_revoked.title</comment>
        <translation>The certificate has been revoked</translation>
    </message>
    <message>
        <source>手続きの有効時間が過ぎました。もう一度お試しください。</source>
        <comment>problem.challenge_invalid.text</comment>
        <translation>The request expired. Please try again.</translation>
    </message>
    <message>
        <source>時間切れです</source>
        <comment>problem.challenge_invalid.title</comment>
        <translation>The request timed out</translation>
    </message>
    <message>
        <source>2つの電子証明書が同じカードのものと確認できませんでした。係員をお呼びください。</source>
        <comment>problem.enrolment_mismatch.text</comment>
        <translation>The two certificates could not be matched to one card. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>登録できませんでした</source>
        <comment>problem.enrolment_mismatch.title</comment>
        <translation>Registration failed</translation>
    </message>
    <message>
        <source>係員をお呼びください。</source>
        <comment>problem.internal.text</comment>
        <translation>Please ask a member of staff.</translation>
    </message>
    <message>
        <source>エラーが発生しました</source>
        <comment>problem.internal.title</comment>
        <translation>Something went wrong</translation>
    </message>
    <message>
        <source>このカードはすでに別の利用者番号で登録されています。係員をお呼びください。</source>
        <comment>problem.link_exists.text</comment>
        <translation>This card is already registered to another account here. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>登録できませんでした</source>
        <comment>problem.link_exists.title</comment>
        <translation>Registration failed</translation>
    </message>
    <message>
        <source>カードが更新されたため、もう一度登録が必要です。署名用パスワードをご用意ください。</source>
        <comment>problem.needs_reenrolment.text</comment>
        <translation>Your card or certificate was renewed, so the link must be registered again. You will need the signature password.</translation>
    </message>
    <message>
        <source>再登録が必要です</source>
        <comment>problem.needs_reenrolment.title</comment>
        <translation>Please register again</translation>
    </message>
    <message>
        <source>このカードには署名用電子証明書がないため、登録できません。市区町村の窓口で発行できます。</source>
        <comment>problem.no_sign_cert.text</comment>
        <translation>This card has no signature certificate, so it cannot be registered. Your municipal office can issue one.</translation>
    </message>
    <message>
        <source>署名用電子証明書がありません</source>
        <comment>problem.no_sign_cert.title</comment>
        <translation>No signature certificate</translation>
    </message>
    <message>
        <source>このカードは使えません。マイナンバーカードを入れてください。</source>
        <comment>problem.not_my_number_card.text</comment>
        <translation>This card cannot be used. Please insert your My Number Card.</translation>
    </message>
    <message>
        <source>マイナンバーカードではありません</source>
        <comment>problem.not_my_number_card.title</comment>
        <translation>This is not a My Number Card</translation>
    </message>
    <message>
        <source>暗証番号の再設定は、お住まいの市区町村の窓口で行えます(本人確認書類をお持ちください)。もう一方の暗証番号が分かれば、コンビニのキオスク端末でも再設定できます。</source>
        <comment>problem.password_blocked.text</comment>
        <translation>The PIN can be reset at your municipal office (bring photo ID). If you know the other PIN of the card, a convenience-store kiosk can also reset it.</translation>
    </message>
    <message>
        <source>パスワードがロックされています</source>
        <comment>problem.password_blocked.title</comment>
        <translation>The password is locked</translation>
    </message>
    <message>
        <source>署名用電子証明書のパスワードを入力してください。</source>
        <comment>problem.password_format.text</comment>
        <translation>Enter the password of the signature certificate.</translation>
    </message>
    <message>
        <source>パスワードは英大文字と数字6〜16文字です</source>
        <comment>problem.password_format.title</comment>
        <translation>The password is 6–16 letters A–Z and digits</translation>
    </message>
    <message>
        <source>あと{retries}回間違えるとロックされます。</source>
        <comment>problem.password_incorrect.text</comment>
        <translation>{retries} more wrong tries will lock the password.</translation>
    </message>
    <message>
        <source>パスワードが違います</source>
        <comment>problem.password_incorrect.title</comment>
        <translation>Wrong password</translation>
    </message>
    <message>
        <source>パスワードは一度だけ送り、再送していません。回数が1回減った可能性があります。カードを入れ直して、もう一度お試しください。</source>
        <comment>problem.password_unconfirmed.text</comment>
        <translation>Your password was sent once and not again; one try may have been used. Please insert the card again and start over.</translation>
    </message>
    <message>
        <source>カードがパスワードを確認できませんでした</source>
        <comment>problem.password_unconfirmed.title</comment>
        <translation>The card did not confirm your password</translation>
    </message>
    <message>
        <source>カードを読み取るサービス(pcscd)が動いていません。係員をお呼びください。</source>
        <comment>problem.pcsc_down.text</comment>
        <translation>The service that reads cards (pcscd) is not running. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>カードサービスが停止しています</source>
        <comment>problem.pcsc_down.title</comment>
        <translation>The card service is not running</translation>
    </message>
    <message>
        <source>暗証番号の再設定は、お住まいの市区町村の窓口で行えます(本人確認書類をお持ちください)。もう一方の暗証番号が分かれば、コンビニのキオスク端末でも再設定できます。</source>
        <comment>problem.pin_blocked.text</comment>
        <translation>The PIN can be reset at your municipal office (bring photo ID). If you know the other PIN of the card, a convenience-store kiosk can also reset it.</translation>
    </message>
    <message>
        <source>暗証番号がロックされています</source>
        <comment>problem.pin_blocked.title</comment>
        <translation>The PIN is locked</translation>
    </message>
    <message>
        <source>利用者証明用電子証明書の暗証番号(数字4桁)を入力してください。</source>
        <comment>problem.pin_format.text</comment>
        <translation>Enter the 4-digit PIN of the user certificate.</translation>
    </message>
    <message>
        <source>暗証番号は数字4桁です</source>
        <comment>problem.pin_format.title</comment>
        <translation>The PIN is 4 digits</translation>
    </message>
    <message>
        <source>あと{retries}回間違えるとロックされます。</source>
        <comment>problem.pin_incorrect.text</comment>
        <translation>{retries} more wrong tries will lock the card.</translation>
    </message>
    <message>
        <source>暗証番号が違います</source>
        <comment>problem.pin_incorrect.title</comment>
        <translation>Wrong PIN</translation>
    </message>
    <message>
        <source>暗証番号は一度だけ送り、再送していません。回数が1回減った可能性があります。カードを入れ直して、もう一度お試しください。</source>
        <comment>problem.pin_unconfirmed.text</comment>
        <translation>Your PIN was sent once and not again; one try may have been used. Please insert the card again and start over.</translation>
    </message>
    <message>
        <source>カードが暗証番号を確認できませんでした</source>
        <comment>problem.pin_unconfirmed.title</comment>
        <translation>The card did not confirm your PIN</translation>
    </message>
    <message>
        <source>通信できませんでした。しばらくしてからもう一度お試しください。</source>
        <comment>problem.platform_unreachable.text</comment>
        <translation>The connection failed. Please try again in a moment.</translation>
    </message>
    <message>
        <source>サーバーに接続できません</source>
        <comment>problem.platform_unreachable.title</comment>
        <translation>Cannot reach the server</translation>
    </message>
    <message>
        <source>カードリーダーが接続されていません。係員をお呼びください。</source>
        <comment>problem.reader_missing.text</comment>
        <translation>The card reader is not connected. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>カードリーダーが見つかりません</source>
        <comment>problem.reader_missing.title</comment>
        <translation>No card reader found</translation>
    </message>
    <message>
        <source>電子証明書の失効情報が最新ではありません。係員をお呼びください。</source>
        <comment>problem.revocation_unknown.text</comment>
        <translation>The revocation list is out of date. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>失効情報を確認できません</source>
        <comment>problem.revocation_unknown.title</comment>
        <translation>Revocation status unavailable</translation>
    </message>
    <message>
        <source>もう一度お試しください。続く場合は係員をお呼びください。</source>
        <comment>problem.service_failed.text</comment>
        <translation>Please try again. If this keeps happening, ask a member of staff.</translation>
    </message>
    <message>
        <source>手続きを完了できませんでした</source>
        <comment>problem.service_failed.title</comment>
        <translation>The service could not finish</translation>
    </message>
    <message>
        <source>係員番号は数字10桁まで、暗証番号は数字6〜12桁です。</source>
        <comment>problem.staff_format.text</comment>
        <translation>The staff number is up to 10 digits; the PIN is 6 to 12 digits.</translation>
    </message>
    <message>
        <source>番号の桁数を確認してください</source>
        <comment>problem.staff_format.title</comment>
        <translation>Please check the number of digits</translation>
    </message>
    <message>
        <source>間違いが続いたため、しばらく入力できません。</source>
        <comment>problem.staff_locked.text</comment>
        <translation>Too many wrong tries: please wait before trying again.</translation>
    </message>
    <message>
        <source>係員ログインを一時停止しています</source>
        <comment>problem.staff_locked.title</comment>
        <translation>Staff login is paused</translation>
    </message>
    <message>
        <source>係員番号から入力し直してください。</source>
        <comment>problem.staff_pin_wrong.text</comment>
        <translation>Please enter your staff number again.</translation>
    </message>
    <message>
        <source>係員番号または暗証番号が違います</source>
        <comment>problem.staff_pin_wrong.title</comment>
        <translation>Wrong staff number or PIN</translation>
    </message>
    <message>
        <source>発行元を確認できない電子証明書です。係員をお呼びください。</source>
        <comment>problem.untrusted_issuer.text</comment>
        <translation>The certificate's issuer is not trusted here. Please ask a member of staff.</translation>
    </message>
    <message>
        <source>電子証明書を確認できませんでした</source>
        <comment>problem.untrusted_issuer.title</comment>
        <translation>The certificate could not be accepted</translation>
    </message>
    <message>
        <source>利用先を選んでください</source>
        <comment>providers.title</comment>
        <translation>Choose where</translation>
    </message>
    <message>
        <source>あと{seconds}秒で手続きを中止します</source>
        <comment>put_back.text</comment>
        <translation>The procedure stops in {seconds} s</translation>
    </message>
    <message>
        <source>カードを戻してください</source>
        <comment>put_back.title</comment>
        <translation>Please put the card back</translation>
    </message>
    <message>
        <source>カードを確認しました</source>
        <comment>reader.card</comment>
        <translation>Card detected</translation>
    </message>
    <message>
        <source>カードリーダーがありません</source>
        <comment>reader.no_reader</comment>
        <translation>No card reader</translation>
    </message>
    <message>
        <source>カードサービス停止中</source>
        <comment>reader.no_service</comment>
        <translation>Card service not running</translation>
    </message>
    <message>
        <source>マイナンバーカードではありません</source>
        <comment>reader.not_my_number</comment>
        <translation>Not a My Number Card</translation>
    </message>
    <message>
        <source>カードリーダー準備完了</source>
        <comment>reader.ready</comment>
        <translation>Reader ready</translation>
    </message>
    <message>
        <source>カードを確認しています</source>
        <comment>reading.title</comment>
        <translation>Checking the card</translation>
    </message>
    <message>
        <source>住所</source>
        <comment>review.address</comment>
        <translation>Address</translation>
    </message>
    <message>
        <source>生年月日</source>
        <comment>review.birth_date</comment>
        <translation>Date of birth</translation>
    </message>
    <message>
        <source>氏名</source>
        <comment>review.name</comment>
        <translation>Name</translation>
    </message>
    <message>
        <source>内容は正しい</source>
        <comment>review.ok</comment>
        <translation>These are correct</translation>
    </message>
    <message>
        <source>性別</source>
        <comment>review.sex</comment>
        <translation>Sex</translation>
    </message>
    <message>
        <source>カードから読み取った内容を確認してください</source>
        <comment>review.title</comment>
        <translation>Check the details read from your card</translation>
    </message>
    <message>
        <source>マイナンバーカードでご本人であることを確認します</source>
        <comment>service.identity.description</comment>
        <translation>Confirm who you are with your My Number Card</translation>
    </message>
    <message>
        <source>本人確認</source>
        <comment>service.identity.title</comment>
        <translation>Identity check</translation>
    </message>
    <message>
        <source>内容をご確認ください</source>
        <comment>service_consent.check_title</comment>
        <translation>Please check the details</translation>
    </message>
    <message>
        <source>(必須)</source>
        <comment>service_consent.required</comment>
        <translation>(required)</translation>
    </message>
    <message>
        <source>提供する情報を選んでください</source>
        <comment>service_consent.title</comment>
        <translation>Choose what may be shared</translation>
    </message>
    <message>
        <source>手続きを選んでください</source>
        <comment>services.title</comment>
        <translation>Choose a service</translation>
    </message>
    <message>
        <source>女性</source>
        <comment>sex.female</comment>
        <translation>Female</translation>
    </message>
    <message>
        <source>男性</source>
        <comment>sex.male</comment>
        <translation>Male</translation>
    </message>
    <message>
        <source>不明</source>
        <comment>sex.unknown</comment>
        <translation>Not stated</translation>
    </message>
    <message>
        <source>係員による本人確認(暗証番号を使えない方)</source>
        <comment>staff.assist</comment>
        <translation>Staff-assisted check (for people who cannot use a PIN)</translation>
    </message>
    <message>
        <source>目視で本人確認のうえ、保険者番号と記号・番号を入力してください</source>
        <comment>staff.assist.title</comment>
        <translation>After checking the person's identity by sight, enter insurer and member numbers</translation>
    </message>
    <message>
        <source>係員を呼びました。そのままお待ちください。</source>
        <comment>staff.called</comment>
        <translation>A member of staff is on the way. Please wait.</translation>
    </message>
    <message>
        <source>係員を呼んでいます…</source>
        <comment>staff.calling</comment>
        <translation>Calling a member of staff…</translation>
    </message>
    <message>
        <source>本人確認済みとして記録</source>
        <comment>staff.confirm</comment>
        <translation>Record as checked by staff</translation>
    </message>
    <message>
        <source>キオスクを終了</source>
        <comment>staff.exit</comment>
        <translation>Close the kiosk</translation>
    </message>
    <message>
        <source>保険者番号</source>
        <comment>staff.insurer</comment>
        <translation>Insurer number</translation>
    </message>
    <message>
        <source>あと{seconds}秒お待ちください</source>
        <comment>staff.locked</comment>
        <translation>Try again in {seconds} s</translation>
    </message>
    <message>
        <source>係員番号を入力してください</source>
        <comment>staff.login</comment>
        <translation>Enter your staff number</translation>
    </message>
    <message>
        <source>確認しています…</source>
        <comment>staff.login.checking</comment>
        <translation>Checking…</translation>
    </message>
    <message>
        <source>係員番号 {staff_id}:暗証番号を入力してください</source>
        <comment>staff.login.pin</comment>
        <translation>Staff number {staff_id}: enter your PIN</translation>
    </message>
    <message>
        <source>記号・番号</source>
        <comment>staff.member</comment>
        <translation>Member number</translation>
    </message>
    <message>
        <source>係員メニュー</source>
        <comment>staff.menu</comment>
        <translation>Staff menu</translation>
    </message>
    <message>
        <source>お手数ですが、受付までお越しください。係員がご案内します。</source>
        <comment>staff.no_channel</comment>
        <translation>Please go to the reception counter: a member of staff will help you there.</translation>
    </message>
    <message>
        <source>係員を呼び出せませんでした。お手数ですが、受付までお越しください。</source>
        <comment>staff.not_delivered</comment>
        <translation>Staff could not be reached. Please go to the reception counter.</translation>
    </message>
    <message>
        <source>カードリーダー: {status}</source>
        <comment>staff.reader</comment>
        <translation>Card reader: {status}</translation>
    </message>
    <message>
        <source>お忘れ物にご注意ください</source>
        <comment>take_card.text</comment>
        <translation>Do not forget your card</translation>
    </message>
    <message>
        <source>カードをお取りください</source>
        <comment>take_card.title</comment>
        <translation>Please take your card</translation>
    </message>
    <message>
        <source>記録しています</source>
        <comment>work.assisted</comment>
        <translation>Recording</translation>
    </message>
    <message>
        <source>本人確認をしています</source>
        <comment>work.authenticate</comment>
        <translation>Checking your identity</translation>
    </message>
    <message>
        <source>登録しています</source>
        <comment>work.enrol</comment>
        <translation>Registering</translation>
    </message>
    <message>
        <source>カードを抜かないでください</source>
        <comment>work.keep_card</comment>
        <translation>Do not remove the card</translation>
    </message>
    <message>
        <source>内容を確認しています</source>
        <comment>work.prepare</comment>
        <translation>Getting the details</translation>
    </message>
    <message>
        <source>カードを確認しています</source>
        <comment>work.read_card</comment>
        <translation>Checking the card</translation>
    </message>
    <message>
        <source>署名用電子証明書を読み取っています</source>
        <comment>work.read_signer</comment>
        <translation>Reading the signature certificate</translation>
    </message>
    <message>
        <source>手続きをしています</source>
        <comment>work.run_service</comment>
        <translation>Processing</translation>
    </message>
</context>
</TS>
