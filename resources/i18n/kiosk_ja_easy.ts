<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja" sourcelanguage="ja">
<context>
    <name>kiosk</name>
    <message>
        <source>マイナンバーカードで手続き</source>
        <comment>attract.title</comment>
        <translation>マイナンバーカードで てつづき</translation>
    </message>
    <message>
        <source>画面にタッチして始めてください</source>
        <comment>attract.touch</comment>
        <translation>がめんに さわって はじめて ください</translation>
    </message>
    <message>
        <source>戻る</source>
        <comment>button.back</comment>
        <translation>もどる</translation>
    </message>
    <message>
        <source>係員を呼ぶ</source>
        <comment>button.call_staff</comment>
        <translation>かかりの ひとを よぶ</translation>
    </message>
    <message>
        <source>中止</source>
        <comment>button.cancel</comment>
        <translation>やめる</translation>
    </message>
    <message>
        <source>訂正</source>
        <comment>button.clear</comment>
        <translation>けす</translation>
    </message>
    <message>
        <source>1文字消す</source>
        <comment>button.delete</comment>
        <translation>1つ けす</translation>
    </message>
    <message>
        <source>終了</source>
        <comment>button.done</comment>
        <translation>おわる</translation>
    </message>
    <message>
        <source>確定</source>
        <comment>button.ok</comment>
        <translation>けってい</translation>
    </message>
    <message>
        <source>もう一度</source>
        <comment>button.retry</comment>
        <translation>もういちど</translation>
    </message>
    <message>
        <source>同意する</source>
        <comment>consent.agree</comment>
        <translation>はい</translation>
    </message>
    <message>
        <source>同意しない</source>
        <comment>consent.decline</comment>
        <translation>いいえ</translation>
    </message>
    <message>
        <source>見やすい表示</source>
        <comment>contrast</comment>
        <translation>みやすく する</translation>
    </message>
    <message>
        <source>このカードの利用者証明用電子証明書を、この利用先のアカウントに登録します。氏名・住所などの情報は保存しません。</source>
        <comment>enrol_consent.text</comment>
        <translation>この カードを ここの アカウントに とうろく します。なまえや じゅうしょは のこしません。</translation>
    </message>
    <message>
        <source>登録への同意</source>
        <comment>enrol_consent.title</comment>
        <translation>とうろく しても いいですか</translation>
    </message>
    <message>
        <source>操作がないため、あと{seconds}秒で最初の画面に戻ります</source>
        <comment>idle.countdown</comment>
        <translation>あと {seconds}びょうで はじめの がめんに もどります</translation>
    </message>
    <message>
        <source>カードの向きは絵のとおりです。手続きが終わるまで抜かないでください。</source>
        <comment>insert.hint</comment>
        <translation>えの ように おいて ください。おわるまで ぬかないで ください。</translation>
    </message>
    <message>
        <source>マイナンバーカードを置いてください</source>
        <comment>insert.title</comment>
        <translation>マイナンバーカードを おいて ください</translation>
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
        <translation>しょめいよう の パスワードを いれて ください</translation>
    </message>
    <message>
        <source>初めてのご利用のため登録します。パスワードは英大文字と数字の6〜16文字です。</source>
        <comment>password.why</comment>
        <translation>はじめて なので とうろく します。えいごの おおもじと すうじで 6〜16もじ です。</translation>
    </message>
    <message>
        <source>あと1回間違えるとロックされます。分からない場合は係員にご相談ください。</source>
        <comment>pin.last_try</comment>
        <translation>あと 1かい まちがえると つかえなく なります。わからない ときは かかりの ひとに きいて ください。</translation>
    </message>
    <message>
        <source>残り{retries}回</source>
        <comment>pin.retries</comment>
        <translation>あと {retries}かい</translation>
    </message>
    <message>
        <source>手元を隠して入力してください</source>
        <comment>pin.shield</comment>
        <translation>てで かくして いれて ください</translation>
    </message>
    <message>
        <source>利用者証明用暗証番号(数字4桁)を入力してください</source>
        <comment>pin.title</comment>
        <translation>あんしょうばんごう(すうじ 4つ)を いれて ください</translation>
    </message>
    <message>
        <source>保険者番号は数字6桁または8桁、記号・番号は空欄にできません。</source>
        <comment>problem.assist_format.text</comment>
        <translation>ほけんしゃばんごうは すうじ 6つ か 8つ です。</translation>
    </message>
    <message>
        <source>番号を確認してください</source>
        <comment>problem.assist_format.title</comment>
        <translation>ばんごうを たしかめて ください</translation>
    </message>
    <message>
        <source>電子証明書の内容が正しくありません。係員をお呼びください。</source>
        <comment>problem.bad_certificate.text</comment>
        <translation>この しょうめいしょは つかえません。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>電子証明書を確認できませんでした</source>
        <comment>problem.bad_certificate.title</comment>
        <translation>カードの しょうめいしょが つかえません</translation>
    </message>
    <message>
        <source>カードの署名を確認できませんでした。もう一度お試しください。</source>
        <comment>problem.bad_signature.text</comment>
        <translation>カードの しょめいが たしかめられません。もういちど して ください。</translation>
    </message>
    <message>
        <source>電子証明書を確認できませんでした</source>
        <comment>problem.bad_signature.title</comment>
        <translation>カードの しょうめいしょが つかえません</translation>
    </message>
    <message>
        <source>カードを入れ直してください。続く場合は係員をお呼びください。</source>
        <comment>problem.card_error.text</comment>
        <translation>カードを もういちど いれて ください。だめなら かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>カードを読み取れませんでした</source>
        <comment>problem.card_error.title</comment>
        <translation>カードが よめません</translation>
    </message>
    <message>
        <source>手続きを中止しました。最初からやり直してください。</source>
        <comment>problem.card_removed.text</comment>
        <translation>とちゅうで やめました。はじめから もういちど してください。</translation>
    </message>
    <message>
        <source>カードが抜かれました</source>
        <comment>problem.card_removed.title</comment>
        <translation>カードが ぬけました</translation>
    </message>
    <message>
        <source>市区町村の窓口で電子証明書を更新してください。</source>
        <comment>problem.cert_expired.text</comment>
        <translation>市役所などの まどぐちで あたらしく して ください。</translation>
    </message>
    <message>
        <source>電子証明書の有効期限が切れています</source>
        <comment>problem.cert_expired.title</comment>
        <translation>しょうめいしょの きげんが きれて います</translation>
    </message>
    <message>
        <source>しばらくしてからお試しください。続く場合は係員をお呼びください。</source>
        <comment>problem.cert_not_yet_valid.text</comment>
        <translation>あとで もういちど して ください。</translation>
    </message>
    <message>
        <source>電子証明書がまだ有効ではありません</source>
        <comment>problem.cert_not_yet_valid.title</comment>
        <translation>しょうめいしょは まだ つかえません</translation>
    </message>
    <message>
        <source>住所・氏名の変更などで失効した可能性があります。市区町村の窓口にお問い合わせください。</source>
        <comment>problem.cert_revoked.text</comment>
        <translation>じゅうしょや なまえが かわると つかえなく なります。市役所などの まどぐちで きいて ください。</translation>
    </message>
    <message>
        <source>電子証明書が失効しています</source>
        <comment>problem.cert_revoked.title</comment>
        <translation>しょうめいしょが つかえなく なって います</translation>
    </message>
    <message>
        <source>手続きの有効時間が過ぎました。もう一度お試しください。</source>
        <comment>problem.challenge_invalid.text</comment>
        <translation>じかんが すぎました。もういちど して ください。</translation>
    </message>
    <message>
        <source>時間切れです</source>
        <comment>problem.challenge_invalid.title</comment>
        <translation>じかんぎれ です</translation>
    </message>
    <message>
        <source>2つの電子証明書が同じカードのものと確認できませんでした。係員をお呼びください。</source>
        <comment>problem.enrolment_mismatch.text</comment>
        <translation>とうろく できません。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>登録できませんでした</source>
        <comment>problem.enrolment_mismatch.title</comment>
        <translation>とうろく できません でした</translation>
    </message>
    <message>
        <source>係員をお呼びください。</source>
        <comment>problem.internal.text</comment>
        <translation>かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>エラーが発生しました</source>
        <comment>problem.internal.title</comment>
        <translation>うまく いきません でした</translation>
    </message>
    <message>
        <source>このカードはすでに別の利用者番号で登録されています。係員をお呼びください。</source>
        <comment>problem.link_exists.text</comment>
        <translation>この カードは もう べつの ばんごうで とうろく されています。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>登録できませんでした</source>
        <comment>problem.link_exists.title</comment>
        <translation>とうろく できません でした</translation>
    </message>
    <message>
        <source>カードが更新されたため、もう一度登録が必要です。署名用パスワードをご用意ください。</source>
        <comment>problem.needs_reenrolment.text</comment>
        <translation>カードが あたらしく なりました。もういちど とうろく します。パスワードを よういして ください。</translation>
    </message>
    <message>
        <source>再登録が必要です</source>
        <comment>problem.needs_reenrolment.title</comment>
        <translation>もういちど とうろく して ください</translation>
    </message>
    <message>
        <source>このカードには署名用電子証明書がないため、登録できません。市区町村の窓口で発行できます。</source>
        <comment>problem.no_sign_cert.text</comment>
        <translation>この カードでは とうろく できません。市役所などの まどぐちで そうだん して ください。</translation>
    </message>
    <message>
        <source>署名用電子証明書がありません</source>
        <comment>problem.no_sign_cert.title</comment>
        <translation>しょめいよう の しょうめいしょが ありません</translation>
    </message>
    <message>
        <source>このカードは使えません。マイナンバーカードを入れてください。</source>
        <comment>problem.not_my_number_card.text</comment>
        <translation>この カードは つかえません。マイナンバーカードを いれて ください。</translation>
    </message>
    <message>
        <source>マイナンバーカードではありません</source>
        <comment>problem.not_my_number_card.title</comment>
        <translation>マイナンバーカード では ありません</translation>
    </message>
    <message>
        <source>暗証番号の再設定は、お住まいの市区町村の窓口で行えます(本人確認書類をお持ちください)。もう一方の暗証番号が分かれば、コンビニのキオスク端末でも再設定できます。</source>
        <comment>problem.password_blocked.text</comment>
        <translation>あんしょうばんごうは、すんでいる 市役所・町役場・村役場の まどぐちで なおせます。もう ひとつの あんしょうばんごうが わかれば、コンビニの きかいでも なおせます。</translation>
    </message>
    <message>
        <source>パスワードがロックされています</source>
        <comment>problem.password_blocked.title</comment>
        <translation>パスワードが ロック されて います</translation>
    </message>
    <message>
        <source>署名用電子証明書のパスワードを入力してください。</source>
        <comment>problem.password_format.text</comment>
        <translation>しょめいよう の パスワードを いれて ください。</translation>
    </message>
    <message>
        <source>パスワードは英大文字と数字6〜16文字です</source>
        <comment>problem.password_format.title</comment>
        <translation>パスワードは えいご の おおもじと すうじ 6〜16もじ です</translation>
    </message>
    <message>
        <source>あと{retries}回間違えるとロックされます。</source>
        <comment>problem.password_incorrect.text</comment>
        <translation>あと {retries}かい まちがえると つかえなく なります。</translation>
    </message>
    <message>
        <source>パスワードが違います</source>
        <comment>problem.password_incorrect.title</comment>
        <translation>パスワードが ちがいます</translation>
    </message>
    <message>
        <source>パスワードは一度だけ送り、再送していません。回数が1回減った可能性があります。カードを入れ直して、もう一度お試しください。</source>
        <comment>problem.password_unconfirmed.text</comment>
        <translation>パスワードは 1かいだけ おくりました。カードを もういちど いれて はじめから やりなおして ください。</translation>
    </message>
    <message>
        <source>カードがパスワードを確認できませんでした</source>
        <comment>problem.password_unconfirmed.title</comment>
        <translation>カードが パスワードを たしかめられませんでした</translation>
    </message>
    <message>
        <source>カードを読み取るサービス(pcscd)が動いていません。係員をお呼びください。</source>
        <comment>problem.pcsc_down.text</comment>
        <translation>カードを よむ しくみが うごいて いません。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>カードサービスが停止しています</source>
        <comment>problem.pcsc_down.title</comment>
        <translation>カードの しくみが とまって います</translation>
    </message>
    <message>
        <source>暗証番号の再設定は、お住まいの市区町村の窓口で行えます(本人確認書類をお持ちください)。もう一方の暗証番号が分かれば、コンビニのキオスク端末でも再設定できます。</source>
        <comment>problem.pin_blocked.text</comment>
        <translation>あんしょうばんごうは、すんでいる 市役所・町役場・村役場の まどぐちで なおせます。もう ひとつの あんしょうばんごうが わかれば、コンビニの きかいでも なおせます。</translation>
    </message>
    <message>
        <source>暗証番号がロックされています</source>
        <comment>problem.pin_blocked.title</comment>
        <translation>あんしょうばんごうが ロック されて います</translation>
    </message>
    <message>
        <source>利用者証明用電子証明書の暗証番号(数字4桁)を入力してください。</source>
        <comment>problem.pin_format.text</comment>
        <translation>すうじ 4つの あんしょうばんごうを いれて ください。</translation>
    </message>
    <message>
        <source>暗証番号は数字4桁です</source>
        <comment>problem.pin_format.title</comment>
        <translation>あんしょうばんごうは すうじ 4つ です</translation>
    </message>
    <message>
        <source>あと{retries}回間違えるとロックされます。</source>
        <comment>problem.pin_incorrect.text</comment>
        <translation>あと {retries}かい まちがえると つかえなく なります。</translation>
    </message>
    <message>
        <source>暗証番号が違います</source>
        <comment>problem.pin_incorrect.title</comment>
        <translation>あんしょうばんごうが ちがいます</translation>
    </message>
    <message>
        <source>暗証番号は一度だけ送り、再送していません。回数が1回減った可能性があります。カードを入れ直して、もう一度お試しください。</source>
        <comment>problem.pin_unconfirmed.text</comment>
        <translation>あんしょうばんごうは 1かいだけ おくりました。カードを もういちど いれて はじめから やりなおして ください。</translation>
    </message>
    <message>
        <source>カードが暗証番号を確認できませんでした</source>
        <comment>problem.pin_unconfirmed.title</comment>
        <translation>カードが あんしょうばんごうを たしかめられませんでした</translation>
    </message>
    <message>
        <source>通信できませんでした。しばらくしてからもう一度お試しください。</source>
        <comment>problem.platform_unreachable.text</comment>
        <translation>つうしん できません。すこし まって もういちど して ください。</translation>
    </message>
    <message>
        <source>サーバーに接続できません</source>
        <comment>problem.platform_unreachable.title</comment>
        <translation>サーバーに つながりません</translation>
    </message>
    <message>
        <source>カードリーダーが接続されていません。係員をお呼びください。</source>
        <comment>problem.reader_missing.text</comment>
        <translation>カードを よむ きかいが つながって いません。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>カードリーダーが見つかりません</source>
        <comment>problem.reader_missing.title</comment>
        <translation>カードを よむ きかいが ありません</translation>
    </message>
    <message>
        <source>電子証明書の失効情報が最新ではありません。係員をお呼びください。</source>
        <comment>problem.revocation_unknown.text</comment>
        <translation>いまは つかえません。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>失効情報を確認できません</source>
        <comment>problem.revocation_unknown.title</comment>
        <translation>いま たしかめる ことが できません</translation>
    </message>
    <message>
        <source>もう一度お試しください。続く場合は係員をお呼びください。</source>
        <comment>problem.service_failed.text</comment>
        <translation>もういちど して ください。だめなら かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>手続きを完了できませんでした</source>
        <comment>problem.service_failed.title</comment>
        <translation>てつづきが できません でした</translation>
    </message>
    <message>
        <source>係員番号は数字10桁まで、暗証番号は数字6〜12桁です。</source>
        <comment>problem.staff_format.text</comment>
        <translation>かかりいんの ばんごうは すうじ 10こ まで、あんしょうばんごうは 6〜12こ です。</translation>
    </message>
    <message>
        <source>番号の桁数を確認してください</source>
        <comment>problem.staff_format.title</comment>
        <translation>ばんごうの けたを たしかめて ください</translation>
    </message>
    <message>
        <source>間違いが続いたため、しばらく入力できません。</source>
        <comment>problem.staff_locked.text</comment>
        <translation>なんども まちがえたので、しばらく いれられません。</translation>
    </message>
    <message>
        <source>係員ログインを一時停止しています</source>
        <comment>problem.staff_locked.title</comment>
        <translation>かかりいんの ログインを しばらく とめて います</translation>
    </message>
    <message>
        <source>係員番号から入力し直してください。</source>
        <comment>problem.staff_pin_wrong.text</comment>
        <translation>かかりいんの ばんごうから もういちど いれて ください。</translation>
    </message>
    <message>
        <source>係員番号または暗証番号が違います</source>
        <comment>problem.staff_pin_wrong.title</comment>
        <translation>かかりいんの ばんごうか あんしょうばんごうが ちがいます</translation>
    </message>
    <message>
        <source>発行元を確認できない電子証明書です。係員をお呼びください。</source>
        <comment>problem.untrusted_issuer.text</comment>
        <translation>この しょうめいしょは つかえません。かかりの ひとを よんで ください。</translation>
    </message>
    <message>
        <source>電子証明書を確認できませんでした</source>
        <comment>problem.untrusted_issuer.title</comment>
        <translation>カードの しょうめいしょが つかえません</translation>
    </message>
    <message>
        <source>利用先を選んでください</source>
        <comment>providers.title</comment>
        <translation>どこの てつづきか えらんで ください</translation>
    </message>
    <message>
        <source>あと{seconds}秒で手続きを中止します</source>
        <comment>put_back.text</comment>
        <translation>あと {seconds}びょうで やめます</translation>
    </message>
    <message>
        <source>カードを戻してください</source>
        <comment>put_back.title</comment>
        <translation>カードを もどして ください</translation>
    </message>
    <message>
        <source>カードを確認しました</source>
        <comment>reader.card</comment>
        <translation>カードが ありました</translation>
    </message>
    <message>
        <source>カードリーダーがありません</source>
        <comment>reader.no_reader</comment>
        <translation>カードを よむ きかいが ありません</translation>
    </message>
    <message>
        <source>カードサービス停止中</source>
        <comment>reader.no_service</comment>
        <translation>カードの しくみが とまって います</translation>
    </message>
    <message>
        <source>マイナンバーカードではありません</source>
        <comment>reader.not_my_number</comment>
        <translation>マイナンバーカード では ありません</translation>
    </message>
    <message>
        <source>カードリーダー準備完了</source>
        <comment>reader.ready</comment>
        <translation>じゅんび できました</translation>
    </message>
    <message>
        <source>カードを確認しています</source>
        <comment>reading.title</comment>
        <translation>カードを しらべて います</translation>
    </message>
    <message>
        <source>住所</source>
        <comment>review.address</comment>
        <translation>じゅうしょ</translation>
    </message>
    <message>
        <source>生年月日</source>
        <comment>review.birth_date</comment>
        <translation>うまれた ひ</translation>
    </message>
    <message>
        <source>氏名</source>
        <comment>review.name</comment>
        <translation>なまえ</translation>
    </message>
    <message>
        <source>内容は正しい</source>
        <comment>review.ok</comment>
        <translation>ただしい</translation>
    </message>
    <message>
        <source>性別</source>
        <comment>review.sex</comment>
        <translation>せいべつ</translation>
    </message>
    <message>
        <source>カードから読み取った内容を確認してください</source>
        <comment>review.title</comment>
        <translation>カードの なかみを たしかめて ください</translation>
    </message>
    <message>
        <source>マイナンバーカードでご本人であることを確認します</source>
        <comment>service.identity.description</comment>
        <translation>マイナンバーカードで あなたが ほんにんか たしかめます</translation>
    </message>
    <message>
        <source>本人確認</source>
        <comment>service.identity.title</comment>
        <translation>ほんにん かくにん</translation>
    </message>
    <message>
        <source>内容をご確認ください</source>
        <comment>service_consent.check_title</comment>
        <translation>ないようを たしかめて ください</translation>
    </message>
    <message>
        <source>(必須)</source>
        <comment>service_consent.required</comment>
        <translation>(ひつよう)</translation>
    </message>
    <message>
        <source>提供する情報を選んでください</source>
        <comment>service_consent.title</comment>
        <translation>みせても いい ものを えらんで ください</translation>
    </message>
    <message>
        <source>手続きを選んでください</source>
        <comment>services.title</comment>
        <translation>てつづきを えらんで ください</translation>
    </message>
    <message>
        <source>女性</source>
        <comment>sex.female</comment>
        <translation>おんな</translation>
    </message>
    <message>
        <source>男性</source>
        <comment>sex.male</comment>
        <translation>おとこ</translation>
    </message>
    <message>
        <source>不明</source>
        <comment>sex.unknown</comment>
        <translation>わからない</translation>
    </message>
    <message>
        <source>係員による本人確認(暗証番号を使えない方)</source>
        <comment>staff.assist</comment>
        <translation>かかりの ひとが たしかめる</translation>
    </message>
    <message>
        <source>目視で本人確認のうえ、保険者番号と記号・番号を入力してください</source>
        <comment>staff.assist.title</comment>
        <translation>めで たしかめてから ばんごうを いれて ください</translation>
    </message>
    <message>
        <source>係員を呼びました。そのままお待ちください。</source>
        <comment>staff.called</comment>
        <translation>かかりの ひとを よびました。まって いて ください。</translation>
    </message>
    <message>
        <source>係員を呼んでいます…</source>
        <comment>staff.calling</comment>
        <translation>かかりの ひとを よんで います…</translation>
    </message>
    <message>
        <source>本人確認済みとして記録</source>
        <comment>staff.confirm</comment>
        <translation>たしかめた ことを きろく</translation>
    </message>
    <message>
        <source>キオスクを終了</source>
        <comment>staff.exit</comment>
        <translation>おわる</translation>
    </message>
    <message>
        <source>保険者番号</source>
        <comment>staff.insurer</comment>
        <translation>ほけんしゃ ばんごう</translation>
    </message>
    <message>
        <source>あと{seconds}秒お待ちください</source>
        <comment>staff.locked</comment>
        <translation>あと {seconds}びょう まって ください</translation>
    </message>
    <message>
        <source>係員番号を入力してください</source>
        <comment>staff.login</comment>
        <translation>かかりいんの ばんごうを いれて ください</translation>
    </message>
    <message>
        <source>確認しています…</source>
        <comment>staff.login.checking</comment>
        <translation>しらべて います…</translation>
    </message>
    <message>
        <source>係員番号 {staff_id}:暗証番号を入力してください</source>
        <comment>staff.login.pin</comment>
        <translation>かかりいんの ばんごう {staff_id}:あんしょうばんごうを いれて ください</translation>
    </message>
    <message>
        <source>記号・番号</source>
        <comment>staff.member</comment>
        <translation>きごう・ばんごう</translation>
    </message>
    <message>
        <source>係員メニュー</source>
        <comment>staff.menu</comment>
        <translation>かかりいん メニュー</translation>
    </message>
    <message>
        <source>お手数ですが、受付までお越しください。係員がご案内します。</source>
        <comment>staff.no_channel</comment>
        <translation>うけつけまで きて ください。かかりの ひとが てつだいます。</translation>
    </message>
    <message>
        <source>係員を呼び出せませんでした。お手数ですが、受付までお越しください。</source>
        <comment>staff.not_delivered</comment>
        <translation>かかりの ひとを よべません でした。うけつけまで きて ください。</translation>
    </message>
    <message>
        <source>カードリーダー: {status}</source>
        <comment>staff.reader</comment>
        <translation>カードを よむ きかい: {status}</translation>
    </message>
    <message>
        <source>お忘れ物にご注意ください</source>
        <comment>take_card.text</comment>
        <translation>わすれないで ください</translation>
    </message>
    <message>
        <source>カードをお取りください</source>
        <comment>take_card.title</comment>
        <translation>カードを とって ください</translation>
    </message>
    <message>
        <source>記録しています</source>
        <comment>work.assisted</comment>
        <translation>きろく して います</translation>
    </message>
    <message>
        <source>本人確認をしています</source>
        <comment>work.authenticate</comment>
        <translation>ほんにんか しらべて います</translation>
    </message>
    <message>
        <source>登録しています</source>
        <comment>work.enrol</comment>
        <translation>とうろく して います</translation>
    </message>
    <message>
        <source>カードを抜かないでください</source>
        <comment>work.keep_card</comment>
        <translation>カードを ぬかないで ください</translation>
    </message>
    <message>
        <source>内容を確認しています</source>
        <comment>work.prepare</comment>
        <translation>ないようを しらべて います</translation>
    </message>
    <message>
        <source>カードを確認しています</source>
        <comment>work.read_card</comment>
        <translation>カードを しらべて います</translation>
    </message>
    <message>
        <source>署名用電子証明書を読み取っています</source>
        <comment>work.read_signer</comment>
        <translation>カードを よんで います</translation>
    </message>
    <message>
        <source>手続きをしています</source>
        <comment>work.run_service</comment>
        <translation>てつづき して います</translation>
    </message>
</context>
</TS>
