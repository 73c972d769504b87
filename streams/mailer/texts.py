"""The confirmation mail's words, per language. The signer's form locale picks one
(``fr-CA`` -> ``fr``); anything else gets English. Placeholders: ``{name}``,
``{title}``, ``{hours}``."""

# ruff: noqa: RUF001  (typographic apostrophes and quotes are the languages' own)
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Texts:
    subject: str
    greeting: str
    body: str
    button: str
    expiry: str
    ignore: str
    #: Before the "remove my signature" link (docs/privacy.md).
    withdraw: str
    #: Written right to left (the HTML part says so).
    rtl: bool = False


TEXTS: dict[str, Texts] = {
    "en": Texts(
        subject="Confirm your signature: {title}",
        greeting="Dear {name},",
        body="Thank you for signing “{title}”. Your signature counts once you confirm "
        "that this address is yours:",
        button="Confirm my signature",
        expiry="The link works for {hours} hours.",
        ignore="If you did not sign, ignore this mail: nothing will be counted.",
        withdraw="Changed your mind? Remove your signature, and your name and address with it:",
    ),
    "fr": Texts(
        subject="Confirmez votre signature : {title}",
        greeting="Bonjour {name},",
        body="Merci d’avoir signé « {title} ». Votre signature comptera dès que vous "
        "aurez confirmé que cette adresse est la vôtre :",
        button="Confirmer ma signature",
        expiry="Le lien est valable {hours} heures.",
        ignore="Si vous n’avez pas signé, ignorez ce message : rien ne sera compté.",
        withdraw="Vous avez changé d’avis ? Retirez votre signature, et avec elle votre nom et "
        "votre adresse :",
    ),
    "es": Texts(
        subject="Confirma tu firma: {title}",
        greeting="Hola, {name}:",
        body="Gracias por firmar «{title}». Tu firma contará en cuanto confirmes que "
        "esta dirección es tuya:",
        button="Confirmar mi firma",
        expiry="El enlace es válido durante {hours} horas.",
        ignore="Si no firmaste, ignora este correo: no se contará nada.",
        withdraw="¿Cambiaste de opinión? Retira tu firma, y con ella tu nombre y tu dirección:",
    ),
    "de": Texts(
        subject="Bestätigen Sie Ihre Unterschrift: {title}",
        greeting="Hallo {name},",
        body="Danke, dass Sie „{title}“ unterschrieben haben. Ihre Unterschrift zählt, "
        "sobald Sie bestätigen, dass diese Adresse Ihnen gehört:",
        button="Unterschrift bestätigen",
        expiry="Der Link gilt {hours} Stunden.",
        ignore="Wenn Sie nicht unterschrieben haben, ignorieren Sie diese Mail: es wird "
        "nichts gezählt.",
        withdraw="Sie haben es sich anders überlegt? Ziehen Sie Ihre Unterschrift zurück, und "
        "mit ihr Ihren Namen und Ihre Adresse:",
    ),
    "ar": Texts(
        subject="أكّد توقيعك: {title}",
        greeting="مرحبًا {name}،",
        body="شكرًا لتوقيعك على «{title}». يُحتسب توقيعك بعد أن تؤكّد أن هذا العنوان لك:",
        button="تأكيد توقيعي",
        expiry="الرابط صالح لمدة {hours} ساعة.",
        ignore="إن لم توقّع، فتجاهل هذه الرسالة: لن يُحتسب شيء.",
        withdraw="غيّرت رأيك؟ اسحب توقيعك، ومعه اسمك وعنوانك:",
        rtl=True,
    ),
}


def texts_for(locale: str | None) -> tuple[str, Texts]:
    """The language and words for a form's locale (``ar-SY``, ``fr_FR``, ``de``...)."""
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    if language in TEXTS:
        return language, TEXTS[language]
    return "en", TEXTS["en"]
