"""The built-in service 本人確認 (identity check): the proof verified, the linked account shown."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.i18n import Text, plain
from kiosk.services.base import ConsentItem, ResultRow, ServiceContext, ServiceResult


@dataclass(frozen=True, slots=True)
class IdentityService:
    """本人確認: confirms the person holds a valid card linked to an account here."""

    id: str = "identity"
    title: Text = Text("本人確認", "Identity check", "ほんにん かくにん")
    description: Text = Text(
        "マイナンバーカードでご本人であることを確認します",
        "Confirm who you are with your My Number Card",
        "マイナンバーカードで あなたが ほんにんか たしかめます",
    )
    needs_link: bool = True
    consent_items: tuple[ConsentItem, ...] = ()

    def run(self, context: ServiceContext) -> ServiceResult:
        """Report the verified identity: the linked account and the certificate's validity."""
        if context.assisted:
            return ServiceResult(
                ok=True,
                title=Text(
                    "係員が本人確認しました",
                    "Identity checked by staff",
                    "かかりの ひとが たしかめました",
                ),
                message=Text(
                    "目視による本人確認として記録しました。",
                    "Recorded as a staff-assisted visual check.",
                    "かかりの ひとが めで たしかめた ことを きろく しました。",
                ),
                assisted=True,
            )
        if context.link is None:
            raise ValueError("the identity check needs a linked account")
        rows = [
            ResultRow(Text("利用者番号", "Account", "ばんごう"), context.link.account_ref),
            ResultRow(
                Text("登録日", "Linked on", "とうろく した ひ"),
                context.link.linked_at.date().isoformat(),
            ),
        ]
        if context.cert_not_after is not None:
            rows.append(
                ResultRow(
                    Text(
                        "電子証明書の有効期限", "Certificate valid until", "しょうめいしょの きげん"
                    ),
                    context.cert_not_after.date().isoformat(),
                )
            )
        return ServiceResult(
            ok=True,
            title=Text("ご本人と確認できました", "Identity confirmed", "ほんにんと たしかめました"),
            message=plain(""),
            rows=tuple(rows),
        )
