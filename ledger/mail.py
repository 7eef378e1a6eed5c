"""E-mail to people: their activation code, through the SMTP server the settings name.

Without an SMTP server (``LEDGER_SMTP_HOST`` unset) nothing is sent and the code is shown once
to whoever created the account instead. Nothing of a message is ever logged.
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage

from ledger.store.settings import Settings


class Mailer:
    """Sends the activation e-mails."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    def send_activation(self, to: str, name: str, code: str, expires_at: datetime) -> bool:
        """Send the code; False when no server is configured or it refused the message."""
        s = self.settings
        if not s.smtp_host:
            return False
        message = EmailMessage()
        message["From"] = s.smtp_sender
        message["To"] = to
        message["Subject"] = "CPF Ledger : activez votre compte"
        message.set_content(
            f"Bonjour {name},\n\n"
            "Un compte personnel vous a été ouvert sur CPF Ledger.\n"
            f"Votre code d'activation : {code}\n"
            f"Il est valable jusqu'au {expires_at:%d/%m/%Y à %H:%M} (UTC), une seule fois.\n\n"
            f"Activez votre compte sur {s.public_url} : vous choisirez un mot de passe et "
            "enregistrerez un second facteur (application d'authentification).\n\n"
            "Aucun agent de la Caisse des Dépôts ne vous demandera jamais ce code ni votre mot "
            "de passe.\n"
        )
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=10) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            return False
        return True
